"""Request and response models: they validate input and generate /openapi.json."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Quantity = Field(gt=0, le=1000, description="How many units; 1 to 1000.")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ProductQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: int = Field(1, ge=1)
    per_page: int = Field(20, ge=1, le=100)
    category: str | None = Field(None, max_length=50)
    min_price_cents: int | None = Field(None, ge=0)
    max_price_cents: int | None = Field(None, ge=0)
    in_stock: bool | None = None
    sort: Literal["id", "-id", "name", "-name", "price", "-price"] = "id"


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=100)
    page: int = Field(1, ge=1)
    per_page: int = Field(20, ge=1, le=100)


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: int = Field(1, ge=1)
    per_page: int = Field(20, ge=1, le=100)


class ProductOut(BaseModel):
    id: int
    sku: str
    name: str
    category: str
    price_cents: int
    stock: int


class ProductPage(BaseModel):
    items: list[ProductOut]
    page: int
    per_page: int
    total: int


class CartCreate(StrictModel):
    user_id: int = Field(gt=0)


class CartItemAdd(StrictModel):
    product_id: int = Field(gt=0)
    quantity: int = Quantity


class CartItemOut(BaseModel):
    product_id: int
    quantity: int


class CartOut(BaseModel):
    id: int
    user_id: int
    checked_out: bool
    items: list[CartItemOut]


class OrderItemOut(BaseModel):
    product_id: int
    quantity: int
    unit_price_cents: int


class OrderOut(BaseModel):
    id: int
    user_id: int
    cart_id: int
    status: str
    total_cents: int
    created_at: datetime
    paid_at: datetime | None
    items: list[OrderItemOut]


class OrderPage(BaseModel):
    items: list[OrderOut]
    page: int
    per_page: int
    total: int


class SwitchSet(StrictModel):
    on: bool


class ErrorOut(BaseModel):
    error: str
    status: int
