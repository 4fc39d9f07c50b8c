"""Request and response models: they validate input and generate /openapi.json."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

INT32_MAX = 2**31 - 1  # ids and prices are PostgreSQL integers
PAGE_MAX = 100_000
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 255  # orders.idempotency_key's length
IDEMPOTENCY_KEY_PATTERN = rf"[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX}}}"  # visible ASCII

Quantity = Field(gt=0, le=1000, description="How many units; 1 to 1000.")
Id = Field(gt=0, le=INT32_MAX)


def _whole_number_as_int(value: Any) -> Any:
    """Take 3.0 as 3: JSON Schema's `integer` admits it, and the document promises that schema."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _as_utc(value: datetime) -> datetime:
    """Mark a timestamp as UTC: the shop stores UTC in `timestamp without time zone` columns."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


#: An integer input, strict (no "3", no true) but for whole floats such as 3.0.
WholeInt = Annotated[int, BeforeValidator(_whole_number_as_int)]
#: A timestamp answered as ISO 8601 with its UTC offset ("2026-12-05T07:51:46.276061Z").
UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
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


class SuggestQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=100, pattern=NO_NUL)


class Suggestions(BaseModel):
    q: str
    items: list[ProductOut]
    total: int = Field(description="How many products matched, shown or not")


class BestSeller(ProductOut):
    units_sold: int = Field(description="Units sold in paid orders of the window")


class BoughtTogether(BaseModel):
    first_id: int
    first_name: str
    second_id: int
    second_name: str
    orders: int = Field(description="Paid orders of the window holding both")


class Highlights(BaseModel):
    """The front page's best sellers, computed from the order history and cached for a while."""

    bestsellers: list[BestSeller] = Field(description="The most sold products, most first")
    by_category: list[BestSeller] = Field(description="Each category's most sold product")
    bought_together: list[BoughtTogether] = Field(
        description="The pairs of products most often in the same order, most first"
    )
    window_days: int = Field(description="How many days of orders count")
    computed_at: UtcDatetime = Field(description="When these were computed")


class SimilarProducts(BaseModel):
    product_id: int
    items: list[ProductOut]


class ProductPage(BaseModel):
    items: list[ProductOut]
    page: int
    per_page: int
    total: int


class CartItemAdd(StrictModel):
    product_id: WholeInt = Id
    quantity: WholeInt = Quantity


class BuyNow(StrictModel):
    product_id: WholeInt = Id
    quantity: WholeInt = Quantity


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


#: An order's payment: waiting for it, captured, or failed for good (its job ran out of retries).
OrderStatus = Literal["pending_payment", "paid", "payment_failed"]


class OrderOut(BaseModel):
    id: int
    user_id: int
    cart_id: int
    status: OrderStatus = Field(
        description="pending_payment until the payment job captures it (paid) or runs out of "
        "retries (payment_failed)."
    )
    total_cents: int
    created_at: UtcDatetime
    paid_at: UtcDatetime | None
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


class FieldError(BaseModel):
    loc: list[str | int] = Field(description='Where the invalid value is, e.g. ["quantity"].')
    msg: str
    type: str


class ErrorOut(BaseModel):
    """The body of every error answer (4xx and 5xx) the shop itself makes."""

    error: str = Field(description="What went wrong, for a person.")
    status: int = Field(description="The HTTP status, repeated.")
    details: list[FieldError] | None = Field(
        None, description="Validation errors (422): one per invalid value."
    )
    sqlstate: str | None = Field(None, description="PostgreSQL's SQLSTATE, for database errors.")
