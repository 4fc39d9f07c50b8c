"""Request and response models: they validate input and generate /openapi.json."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

INT32_MAX = 2**31 - 1  # ids and prices are PostgreSQL integers
PAGE_MAX = 100_000
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL

Quantity = Field(gt=0, le=1000, description="How many units; 1 to 1000.")
Id = Field(gt=0, le=INT32_MAX)
Cents = Field(None, ge=0, le=INT32_MAX)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: int = Field(1, ge=1, le=PAGE_MAX)
    per_page: int = Field(20, ge=1, le=100)


class ProductQuery(PageQuery):
    category: str | None = Field(None, max_length=50, pattern=NO_NUL)
    min_price_cents: int | None = Cents
    max_price_cents: int | None = Cents
    in_stock: bool | None = None
    sort: Literal["id", "-id", "name", "-name", "price", "-price"] = "id"


class SearchQuery(PageQuery):
    q: str = Field(min_length=1, max_length=100, pattern=NO_NUL)


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
    user_id: int = Id


class CartItemAdd(StrictModel):
    product_id: int = Id
    quantity: int = Quantity


class BuyNow(StrictModel):
    user_id: int = Id
    product_id: int = Id
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


class SettingSet(StrictModel):
    value: bool | int | float | str


class ErrorOut(BaseModel):
    error: str
    status: int
