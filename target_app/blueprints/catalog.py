"""Catalog: list, search and product detail, served from a copy of the catalog when it is on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from flask import Blueprint, current_app, request
from spectree import Response

from target_app.api import api, errors
from target_app.db import new_session, request_session
from target_app.runtime_settings import current_settings
from target_app.schemas import (
    Highlights,
    ProductOut,
    ProductPage,
    ProductQuery,
    SearchQuery,
    SimilarProducts,
    Suggestions,
    SuggestQuery,
)
from target_app.services import catalog, highlights, pricing, similar, suggest
from target_app.services.catalog_cache import CatalogCache, Snapshot, View

bp = Blueprint("catalog", __name__)

T = TypeVar("T")


def _load_catalog(limit: int) -> Sequence[ProductOut]:
    products = catalog.all_products(request_session(), limit=limit)
    return [ProductOut.model_validate(p, from_attributes=True) for p in products]


def _from_copy(view: View, answer: Callable[[Snapshot], T | None]) -> T | None:
    """Answer from this process's catalog copy when the cache is on; None: read the database.

    The cache is on while the runtime setting `catalog_cache_ttl_s` is above 0
    (see target_app.services.catalog_cache). An answer from a copy that was
    already there is a hit; one that needed the database is a miss.
    """
    ttl_s = current_settings().catalog_cache_ttl_s
    if ttl_s <= 0:
        return None
    cache: CatalogCache = current_app.extensions["catalog_cache"]
    snapshot, loaded = cache.snapshot(ttl_s=ttl_s, load=_load_catalog)
    result = answer(snapshot) if snapshot is not None else None
    cache.count(view, hit=result is not None and not loaded)
    return result


def _page(items: Sequence[object], page: int, per_page: int, total: int) -> ProductPage:
    return ProductPage(
        items=[ProductOut.model_validate(p, from_attributes=True) for p in items],
        page=page,
        per_page=per_page,
        total=total,
    )


@bp.get("/products")
@api.validate(
    query=ProductQuery, resp=Response(HTTP_200=ProductPage, **errors(503)), tags=["catalog"]
)
def list_products() -> ProductPage:
    """List products with pagination, filtering and sorting."""
    query: ProductQuery = request.context.query  # type: ignore[attr-defined]
    cached = _from_copy("list", lambda snapshot: snapshot.page(query))
    if cached is not None:
        return cached
    items, total = catalog.list_products(request_session(), query=query)
    return _page(items, query.page, query.per_page, total)


@bp.get("/products/search")
@api.validate(
    query=SearchQuery, resp=Response(HTTP_200=ProductPage, **errors(503)), tags=["catalog"]
)
def search_products() -> ProductPage:
    """Search products by name."""
    query: SearchQuery = request.context.query  # type: ignore[attr-defined]
    cached = _from_copy(
        "search",
        lambda snapshot: snapshot.search(text=query.q, page=query.page, per_page=query.per_page),
    )
    if cached is not None:
        return cached
    items, total = catalog.search_products(
        request_session(), text=query.q, page=query.page, per_page=query.per_page
    )
    return _page(items, query.page, query.per_page, total)


@bp.get("/products/highlights")
@api.validate(resp=Response(HTTP_200=Highlights, **errors(503)), tags=["catalog"])
def product_highlights() -> Highlights:
    """The front page's best sellers of the last year: overall and in each category."""
    cache = highlights.HighlightsCache(
        current_app.extensions["redis"],
        request_session(),
        ttl_s=current_settings().highlights_ttl_s,
    )
    plain = current_app.extensions["switches"].is_on(highlights.SWITCH)
    return cache.read(single_flight=not plain)


@bp.get("/products/suggest")
@api.validate(
    query=SuggestQuery, resp=Response(HTTP_200=Suggestions, **errors(503)), tags=["catalog"]
)
def suggest_products() -> Suggestions:
    """Suggest products as a shopper types: names or categories containing the text."""
    query: SuggestQuery = request.context.query  # type: ignore[attr-defined]
    leaky = current_app.extensions["switches"].is_on(suggest.SWITCH)
    return suggest.suggest(request_session(), query.q, leaky=leaky)


@bp.get("/products/<int:product_id>")
@api.validate(resp=Response(HTTP_200=ProductOut, **errors(404, 503)), tags=["catalog"])
def get_product(product_id: int) -> ProductOut:
    """Show one product."""
    cached = _from_copy("detail", lambda snapshot: snapshot.product(product_id))
    if cached is not None:
        return cached
    product = catalog.get_product(request_session(), product_id=product_id)
    return ProductOut.model_validate(product, from_attributes=True)


@bp.get("/products/<int:product_id>/similar")
@api.validate(resp=Response(HTTP_200=SimilarProducts, **errors(404, 503)), tags=["catalog"])
def similar_products(product_id: int) -> SimilarProducts:
    """List the products whose names are closest to this one's ("you may also like")."""
    found = similar.similar_products(
        request_session(), product_id=product_id, switches=current_app.extensions["switches"]
    )
    items = [ProductOut.model_validate(p, from_attributes=True) for p in found]
    return SimilarProducts(product_id=product_id, items=items)


@bp.post("/products/<int:product_id>/reprice")
@api.validate(
    resp=Response(HTTP_200=ProductOut, **errors(404, 409, 503)),
    tags=["catalog"],
)
def reprice_product(product_id: int) -> ProductOut:
    """Take a product's price from the pricing service (a merchant's "sync price" button)."""
    product = pricing.reprice(
        product_id=product_id,
        open_session=new_session,
        switches=current_app.extensions["switches"],
        call_s=current_settings().pricing_call_ms / 1000,
    )
    current_app.extensions["catalog_cache"].forget_products([product_id])
    return ProductOut.model_validate(product, from_attributes=True)
