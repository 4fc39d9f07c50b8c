"""Managing the catalog: create products, change prices, restock. The admin role only."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from pydantic import Field
from spectree import Response
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from target_app.accounts.guard import requires_token
from target_app.api import api, errors
from target_app.db import request_session
from target_app.errors import Conflict, NotFound
from target_app.models import Product
from target_app.schemas import INT32_MAX, NO_NUL, ProductOut, Quantity, StrictModel, WholeInt

bp = Blueprint("product_admin", __name__)

Price = Field(gt=0, le=INT32_MAX, description="The unit price in cents.")


class ProductCreate(StrictModel):
    sku: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    category: str = Field(min_length=1, max_length=50, pattern=NO_NUL)
    price_cents: WholeInt = Price
    stock: WholeInt = Field(0, ge=0, le=INT32_MAX)


class PriceChange(StrictModel):
    price_cents: WholeInt = Price


class Restock(StrictModel):
    quantity: WholeInt = Quantity


def _answer(product: Product) -> ProductOut:
    current_app.extensions["catalog_cache"].forget_products([product.id])
    return ProductOut.model_validate(product, from_attributes=True)


@bp.post("/products")
@requires_token("admin")
@api.validate(
    json=ProductCreate,
    resp=Response(HTTP_201=ProductOut, **errors(401, 403, 409, 503)),
    tags=["catalog admin"],
)
def create_product() -> tuple[ProductOut, int]:
    """Add a product to the catalog (admin role)."""
    body: ProductCreate = request.context.json  # type: ignore[attr-defined]
    session = request_session()
    product = Product(**body.model_dump())
    session.add(product)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a product with sku {body.sku} exists") from None
    return _answer(product), 201


@bp.put("/products/<int:product_id>/price")
@requires_token("admin")
@api.validate(
    json=PriceChange,
    resp=Response(HTTP_200=ProductOut, **errors(401, 403, 404, 503)),
    tags=["catalog admin"],
)
def change_price(product_id: int) -> ProductOut:
    """Change a product's price (admin role); orders already placed keep theirs."""
    body: PriceChange = request.context.json  # type: ignore[attr-defined]
    return _answer(_updated(product_id, price_cents=body.price_cents))


@bp.post("/products/<int:product_id>/restock")
@requires_token("admin")
@api.validate(
    json=Restock,
    resp=Response(HTTP_200=ProductOut, **errors(401, 403, 404, 503)),
    tags=["catalog admin"],
)
def restock(product_id: int) -> ProductOut:
    """Add units to a product's stock (admin role), in one statement: no sale is lost."""
    body: Restock = request.context.json  # type: ignore[attr-defined]
    return _answer(_updated(product_id, stock=Product.stock + body.quantity))


def _updated(product_id: int, **values: object) -> Product:
    session = request_session()
    product = session.scalar(
        update(Product).where(Product.id == product_id).values(**values).returning(Product)
    )
    if product is None:
        session.rollback()
        raise NotFound(f"product {product_id} not found")
    session.commit()
    return product
