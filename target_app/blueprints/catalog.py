"""Catalog: list, search and product detail."""

from __future__ import annotations

from flask import Blueprint, request
from spectree import Response

from target_app.api import api
from target_app.db import request_session
from target_app.schemas import ErrorOut, ProductOut, ProductPage, ProductQuery, SearchQuery
from target_app.services import catalog

bp = Blueprint("catalog", __name__)


@bp.get("/products")
@api.validate(query=ProductQuery, resp=Response(HTTP_200=ProductPage), tags=["catalog"])
def list_products() -> ProductPage:
    """List products with pagination, filtering and sorting."""
    query: ProductQuery = request.context.query  # type: ignore[attr-defined]
    items, total = catalog.list_products(request_session(), query=query)
    return ProductPage(
        items=[ProductOut.model_validate(p, from_attributes=True) for p in items],
        page=query.page,
        per_page=query.per_page,
        total=total,
    )


@bp.get("/products/search")
@api.validate(query=SearchQuery, resp=Response(HTTP_200=ProductPage), tags=["catalog"])
def search_products() -> ProductPage:
    """Search products by name."""
    query: SearchQuery = request.context.query  # type: ignore[attr-defined]
    items, total = catalog.search_products(
        request_session(), text=query.q, page=query.page, per_page=query.per_page
    )
    return ProductPage(
        items=[ProductOut.model_validate(p, from_attributes=True) for p in items],
        page=query.page,
        per_page=query.per_page,
        total=total,
    )


@bp.get("/products/<int:product_id>")
@api.validate(resp=Response(HTTP_200=ProductOut, HTTP_404=ErrorOut), tags=["catalog"])
def get_product(product_id: int) -> ProductOut:
    """Show one product."""
    product = catalog.get_product(request_session(), product_id=product_id)
    return ProductOut.model_validate(product, from_attributes=True)
