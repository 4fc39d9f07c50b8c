"""Catalog queries: list with filters, sorting and pagination; search; detail."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from target_app.errors import NotFound
from target_app.models import Product
from target_app.schemas import ProductQuery

_SORTS = {
    "id": Product.id.asc(),
    "-id": Product.id.desc(),
    "name": Product.name.asc(),
    "-name": Product.name.desc(),
    "price": Product.price_cents.asc(),
    "-price": Product.price_cents.desc(),
}


def _page(
    session: Session, stmt: Select[tuple[Product]], *, page: int, per_page: int
) -> tuple[list[Product], int]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = session.scalars(stmt.offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), int(total or 0)


def list_products(session: Session, *, query: ProductQuery) -> tuple[list[Product], int]:
    """Return one page of products matching the filters, and how many match in all."""
    stmt = select(Product)
    if query.category is not None:
        stmt = stmt.where(Product.category == query.category)
    if query.min_price_cents is not None:
        stmt = stmt.where(Product.price_cents >= query.min_price_cents)
    if query.max_price_cents is not None:
        stmt = stmt.where(Product.price_cents <= query.max_price_cents)
    if query.in_stock is not None:
        stmt = stmt.where(Product.stock > 0 if query.in_stock else Product.stock <= 0)
    stmt = stmt.order_by(_SORTS[query.sort], Product.id.asc())
    return _page(session, stmt, page=query.page, per_page=query.per_page)


def search_products(
    session: Session, *, text: str, page: int, per_page: int
) -> tuple[list[Product], int]:
    """Return products whose name contains `text`, case-insensitively."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    stmt = (
        select(Product)
        .where(Product.name.ilike(f"%{escaped}%", escape="\\"))
        .order_by(Product.name, Product.id)
    )
    return _page(session, stmt, page=page, per_page=per_page)


def all_products(session: Session, *, limit: int) -> list[Product]:
    """Return up to `limit` products in id order (the catalog cache's copy)."""
    return list(session.scalars(select(Product).order_by(Product.id).limit(limit)))


def get_product(session: Session, *, product_id: int) -> Product:
    """Return one product or raise NotFound."""
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"product {product_id} not found")
    return product
