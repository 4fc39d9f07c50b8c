"""Checkout: one order from a cart, stock decremented and the event written in one transaction.

Two deliberate bugs live here, each next to its fix (see target_app.switches):
`lock_in_cart_order` and `leak_session_on_error`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from target_app.errors import Conflict, NotFound, Unprocessable
from target_app.models import Cart, CartItem, Order, OrderItem, OutboxEvent, Product
from target_app.switches import SwitchBoard


class OutOfStock(Conflict):
    """A product in the cart has fewer units than asked for."""


def place_order(
    *,
    cart_id: int,
    open_session: Callable[[], Session],
    switches: SwitchBoard,
    lock_pause_s: float = 0.0,
) -> Order:
    """Turn a cart into an order in one transaction on a session of its own."""
    session = open_session()
    if switches.is_on("leak_session_on_error"):
        # BUG: the session is closed on the success path only. When checkout
        # fails, its transaction stays open and its connection stays checked out.
        order = _place_order(session, cart_id, switches, lock_pause_s)
        session.close()
        return order
    # FIX: always release the session, whatever happens.
    try:
        return _place_order(session, cart_id, switches, lock_pause_s)
    finally:
        session.close()


def _place_order(session: Session, cart_id: int, switches: SwitchBoard, pause_s: float) -> Order:
    # The cart row is locked first, so two checkouts of one cart cannot both pass.
    cart = session.get(Cart, cart_id, with_for_update=True)
    if cart is None:
        raise NotFound(f"cart {cart_id} not found")
    if cart.checked_out_at is not None:
        raise Conflict(f"cart {cart_id} is already checked out")
    if not cart.items:
        raise Unprocessable(f"cart {cart_id} is empty")
    _check_stock(session, cart.items)

    if switches.is_on("lock_in_cart_order"):
        # BUG: rows are locked in the order the shopper added them, so two
        # carts holding the same products in opposite order wait on each other.
        lock_order = [item.product_id for item in cart.items]
    else:
        # FIX: every checkout locks rows in one global order: ascending id.
        lock_order = sorted(item.product_id for item in cart.items)

    products: dict[int, Product] = {}
    for product_id in lock_order:
        products[product_id] = session.scalars(
            select(Product).where(Product.id == product_id).with_for_update()
        ).one()
        if pause_s:
            time.sleep(pause_s)  # pricing / fraud check done while holding the lock

    _check_stock(session, cart.items, locked=products)
    order = Order(user_id=cart.user_id, cart_id=cart.id, status="pending_payment", total_cents=0)
    for item in cart.items:
        product = products[item.product_id]
        product.stock -= item.quantity
        order.items.append(
            OrderItem(
                product_id=product.id,
                quantity=item.quantity,
                unit_price_cents=product.price_cents,
            )
        )
        order.total_cents += product.price_cents * item.quantity
    cart.checked_out_at = datetime.now(UTC).replace(tzinfo=None)
    session.add(order)
    session.flush()
    session.add(
        OutboxEvent(
            topic="order.placed",
            payload={
                "order_id": order.id,
                "user_id": order.user_id,
                "total_cents": order.total_cents,
                "items": [
                    {
                        "product_id": i.product_id,
                        "quantity": i.quantity,
                        "stock_after": products[i.product_id].stock,
                    }
                    for i in cart.items
                ],
            },
        )
    )
    session.commit()
    return order


def _check_stock(
    session: Session, items: list[CartItem], locked: dict[int, Product] | None = None
) -> None:
    """Raise OutOfStock naming every product short of units."""
    if locked is not None:
        stock = {product_id: product.stock for product_id, product in locked.items()}
    else:
        rows = session.execute(
            select(Product.id, Product.stock).where(Product.id.in_([i.product_id for i in items]))
        ).all()
        stock = {product_id: units for product_id, units in rows}
    short = [
        {"product_id": i.product_id, "requested": i.quantity, "available": stock[i.product_id]}
        for i in items
        if stock[i.product_id] < i.quantity
    ]
    if short:
        raise OutOfStock("not enough stock", short=short)
