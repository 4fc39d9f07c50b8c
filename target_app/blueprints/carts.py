"""Carts, checkout, and buy now (a one-product checkout in one request)."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, request
from spectree import Response
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from target_app import outbox
from target_app.accounts.guard import current_caller, requires_token
from target_app.api import api, errors
from target_app.db import new_session, request_session
from target_app.errors import DEADLOCK_SQLSTATE, ShopError, sqlstate
from target_app.instrumentation import metrics
from target_app.models import Cart, Order
from target_app.runtime_settings import current_settings
from target_app.schemas import (
    IDEMPOTENCY_KEY_HEADER,
    IDEMPOTENCY_KEY_MAX,
    IDEMPOTENCY_KEY_PATTERN,
    BuyNow,
    CartItemAdd,
    CartItemOut,
    CartOut,
    OrderOut,
)
from target_app.services import buy_now as buy_now_service
from target_app.services import carts, checkout

bp = Blueprint("carts", __name__)

_KEY_PATTERN = re.compile(IDEMPOTENCY_KEY_PATTERN)


#: What checkout and buy now answer: the order (201, or 200 replayed), or why not.
PLACED_RESPONSES = {
    "HTTP_200": OrderOut,
    "HTTP_201": OrderOut,
    **errors(400, 401, 404, 409, 422, 429, 503),
}


def cart_out(cart: Cart) -> CartOut:
    """Return the API view of a cart."""
    return CartOut(
        id=cart.id,
        user_id=cart.user_id,
        checked_out=cart.checked_out_at is not None,
        items=[CartItemOut(product_id=i.product_id, quantity=i.quantity) for i in cart.items],
    )


def order_out(order: Order) -> OrderOut:
    """Return the API view of an order."""
    return OrderOut.model_validate(order, from_attributes=True)


@bp.post("/carts")
@requires_token()
@api.validate(resp=Response(HTTP_201=CartOut, **errors(401, 404, 503)), tags=["cart"])
def create_cart() -> tuple[CartOut, int]:
    """Create an empty cart for the caller."""
    return cart_out(carts.create_cart(request_session(), user_id=current_caller().user_id)), 201


@bp.get("/carts/<int:cart_id>")
@requires_token()
@api.validate(resp=Response(HTTP_200=CartOut, **errors(401, 404, 503)), tags=["cart"])
def get_cart(cart_id: int) -> CartOut:
    """Show one of the caller's carts (another user's is not found)."""
    owner = current_caller().user_id
    return cart_out(carts.get_cart(request_session(), cart_id=cart_id, owner_id=owner))


@bp.post("/carts/<int:cart_id>/items")
@requires_token()
@api.validate(
    json=CartItemAdd,
    resp=Response(HTTP_200=CartOut, **errors(401, 404, 409, 503)),
    tags=["cart"],
)
def add_item(cart_id: int) -> CartOut:
    """Add units of a product to one of the caller's carts."""
    body: CartItemAdd = request.context.json  # type: ignore[attr-defined]
    cart = carts.add_item(
        request_session(),
        cart_id=cart_id,
        owner_id=current_caller().user_id,
        product_id=body.product_id,
        quantity=body.quantity,
    )
    return cart_out(cart)


@bp.delete("/carts/<int:cart_id>/items/<int:product_id>")
@requires_token()
@api.validate(resp=Response(HTTP_200=CartOut, **errors(401, 404, 409, 503)), tags=["cart"])
def remove_item(cart_id: int, product_id: int) -> CartOut:
    """Remove a product from one of the caller's carts."""
    cart = carts.remove_item(
        request_session(),
        cart_id=cart_id,
        owner_id=current_caller().user_id,
        product_id=product_id,
    )
    return cart_out(cart)


@bp.post("/carts/<int:cart_id>/checkout")
@requires_token()
@api.validate(
    resp=Response(**PLACED_RESPONSES),
    tags=["cart"],
)
def checkout_cart(cart_id: int) -> tuple[OrderOut, int] | tuple[OrderOut, int, dict[str, str]]:
    """Check out a cart: one order, stock decremented, an order.placed event for the relay.

    With an `Idempotency-Key` header, repeating the request returns the first
    order (200, header `Idempotent-Replayed: true`) instead of a second one; the
    same key on another cart is refused with 422.
    """
    settings = current_settings()
    try:
        placed = checkout.place_order(
            cart_id=cart_id,
            open_session=new_session,
            switches=current_app.extensions["switches"],
            lock_pause_s=settings.checkout_lock_pause_ms / 1000,
            idempotency_key=_idempotency_key(),
            owner_id=current_caller().user_id,
        )
    except Exception as exc:
        current_app.extensions["failures"].record(exc)
        metrics.CHECKOUTS.labels(_outcome(exc)).inc()
        raise
    return _placed_answer(placed)


@bp.post("/orders")
@requires_token()
@api.validate(
    json=BuyNow,
    resp=Response(**PLACED_RESPONSES),
    tags=["orders"],
)
def buy_now() -> tuple[OrderOut, int] | tuple[OrderOut, int, dict[str, str]]:
    """Buy now: one product, one request, no cart to fill first.

    Send an `Idempotency-Key` header (a UUID per purchase) and repeat the request
    with the same key when its answer is lost: the repeat returns the first order
    (200, header `Idempotent-Replayed: true`) instead of placing a second one.
    """
    body: BuyNow = request.context.json  # type: ignore[attr-defined]
    try:
        placed = buy_now_service.buy_now(
            user_id=current_caller().user_id,
            product_id=body.product_id,
            quantity=body.quantity,
            open_session=new_session,
            switches=current_app.extensions["switches"],
            idempotency_key=_idempotency_key(),
        )
    except Exception as exc:
        current_app.extensions["failures"].record(exc)
        metrics.CHECKOUTS.labels(_outcome(exc)).inc()
        raise
    return _placed_answer(placed)


def _placed_answer(
    placed: checkout.Placed,
) -> tuple[OrderOut, int] | tuple[OrderOut, int, dict[str, str]]:
    """Answer a placed order: 201, or 200 when an earlier request with its key placed it."""
    if placed.replayed:
        metrics.CHECKOUTS.labels("replayed").inc()
        return order_out(placed.order), 200, {"Idempotent-Replayed": "true"}
    if placed.publish_now is not None:
        outbox.publish_after_commit(
            placed.publish_now, current_app.extensions["redis"], current_app.extensions["settings"]
        )
    metrics.CHECKOUTS.labels("ok").inc()
    # Stock changed: this process's catalog cache forgets those products' pages.
    current_app.extensions["catalog_cache"].forget_products(
        item.product_id for item in placed.order.items
    )
    # The payment capture is enqueued by the outbox relay from the order.placed event.
    return order_out(placed.order), 201


def _idempotency_key() -> str | None:
    """Return the request's Idempotency-Key header, None without one (400 if malformed)."""
    key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if key is None:
        return None
    if not _KEY_PATTERN.fullmatch(key):
        raise ShopError(
            f"{IDEMPOTENCY_KEY_HEADER} must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII "
            "characters, e.g. a UUID"
        )
    return key


def _outcome(exc: Exception) -> str:
    if isinstance(exc, checkout.OutOfStock):
        return "out_of_stock"
    if isinstance(exc, ShopError):
        return "rejected"
    if sqlstate(exc) == DEADLOCK_SQLSTATE:
        return "deadlock"
    if isinstance(exc, PoolTimeoutError):
        return "pool_timeout"
    return "error"
