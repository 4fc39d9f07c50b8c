"""Checkout: one order from a cart, stock decremented and the event written in one transaction.

Four deliberate bugs live here, each next to its fix (see target_app.switches):
`lock_in_cart_order`, `unlocked_stock_update`, `publish_after_commit` (with
target_app.outbox) and `leak_session_on_error`.

A checkout may carry an Idempotency-Key: the order remembers it (a unique
column), and a repeated checkout of the same cart with the same key returns
that order instead of failing or placing another. Two requests with one key at
once are serialised by the cart's row lock (same cart) or refused by the
unique constraint (different carts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from target_app.errors import Conflict, NotFound, Unprocessable
from target_app.models import Cart, CartItem, Order, OrderItem, OutboxEvent, Product
from target_app.pgerrors import sqlstate
from target_app.switches import SwitchBoard

UNIQUE_VIOLATION = "23505"
IDEMPOTENCY_KEY_CONSTRAINT = "uq_orders_idempotency_key"


class OutOfStock(Conflict):
    """A product in the cart has fewer units than asked for."""


class IdempotencyKeyReused(Unprocessable):
    """An Idempotency-Key already used for another cart's checkout."""

    def __init__(self, cart_id: int) -> None:
        super().__init__(
            f"this Idempotency-Key was already used to check out a different cart; "
            f"send a new key to check out cart {cart_id}"
        )


@dataclass(frozen=True)
class Placed:
    """The order a checkout returns; `replayed` when an earlier request with its key placed it."""

    order: Order
    replayed: bool = False
    #: The order.placed event, when the checkout publishes it itself (`publish_after_commit`).
    publish_now: OutboxEvent | None = None


def place_order(
    *,
    cart_id: int,
    open_session: Callable[[], Session],
    switches: SwitchBoard,
    lock_pause_s: float = 0.0,
    idempotency_key: str | None = None,
    owner_id: int | None = None,
) -> Placed:
    """Turn a cart into an order in one transaction on a session of its own.

    With `owner_id`, a cart of another user is not found (404: ids do not leak).
    """
    session = open_session()
    if switches.is_on("leak_session_on_error"):
        # BUG: the session is closed on the success path only. When checkout
        # fails, its transaction stays open and its connection stays checked out.
        placed = place_in_session(
            session, cart_id, switches, lock_pause_s, idempotency_key, owner_id=owner_id
        )
        session.close()
        return placed
    # FIX: always release the session, whatever happens.
    try:
        return place_in_session(
            session, cart_id, switches, lock_pause_s, idempotency_key, owner_id=owner_id
        )
    finally:
        session.close()


def _order_with_key(session: Session, key: str) -> Order | None:
    return session.scalars(select(Order).where(Order.idempotency_key == key)).one_or_none()


def place_in_session(
    session: Session,
    cart_id: int,
    switches: SwitchBoard,
    pause_s: float,
    key: str | None,
    request_key: str | None = None,
    *,
    owner_id: int | None = None,
) -> Placed:
    """Place the cart's order on an open session (commits); `key` is the Idempotency-Key honoured.

    `request_key` is the key the client sent, which the order.placed event carries
    for payments and support whether or not it was honoured (default: `key`).
    """
    # The cart row is locked first, so two checkouts of one cart cannot both pass.
    cart = session.get(Cart, cart_id, with_for_update=True)
    if cart is None or (owner_id is not None and cart.user_id != owner_id):
        raise NotFound(f"cart {cart_id} not found")
    if key is not None and (earlier := _order_with_key(session, key)) is not None:
        if earlier.cart_id != cart_id:
            raise IdempotencyKeyReused(cart_id)
        session.commit()  # nothing written: release the cart lock, keep the order loaded
        return Placed(earlier, replayed=True)
    if cart.checked_out_at is not None:
        raise Conflict(f"cart {cart_id} is already checked out")
    if not cart.items:
        raise Unprocessable(f"cart {cart_id} is empty")
    _check_stock(session, cart.items)
    products = _lock_products(session, cart, switches, pause_s)
    _check_stock(session, cart.items, locked=products)
    order = Order(
        user_id=cart.user_id,
        cart_id=cart.id,
        idempotency_key=key,
        status="pending_payment",
        total_cents=0,
    )
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
    try:
        session.flush()
    except IntegrityError as exc:
        # Another cart's checkout with the same key committed first.
        if _violated(exc) != IDEMPOTENCY_KEY_CONSTRAINT:
            raise
        session.rollback()
        raise IdempotencyKeyReused(cart_id) from None
    event = _order_placed(order, cart, products, request_key or key)
    if switches.is_on("publish_after_commit"):
        # BUG: marked published here, so the relay skips it: the caller publishes it
        # after the commit, straight to Redis (target_app.outbox.publish_after_commit).
        event.published_at = datetime.now(UTC).replace(tzinfo=None)
    # FIX: left unpublished; the relay publishes it once Redis accepts it.
    session.add(event)
    session.commit()
    return Placed(order, publish_now=event if event.published_at is not None else None)


def _lock_products(
    session: Session, cart: Cart, switches: SwitchBoard, pause_s: float
) -> dict[int, Product]:
    """Lock the cart's product rows (FOR UPDATE) and return them by id."""
    if switches.is_on("unlocked_stock_update"):
        return _read_products_unlocked(session, cart, pause_s)
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
    return products


def _read_products_unlocked(session: Session, cart: Cart, pause_s: float) -> dict[int, Product]:
    """Read the cart's products without a lock (the `unlocked_stock_update` bug)."""
    # BUG: a plain SELECT. Checkout then checks the stock it read in Python and the
    # ORM writes back `SET stock = <what it read - quantity>` at commit: a checkout
    # that read the same stock meanwhile overwrites this one's decrement (a lost
    # update) and the same units are sold twice. The pause (pricing, a fraud check)
    # sits between the read and the write, where the race is.
    ids = sorted(item.product_id for item in cart.items)
    products = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(ids)))}
    if pause_s:
        time.sleep(pause_s)
    return products


def _order_placed(
    order: Order, cart: Cart, products: dict[int, Product], request_key: str | None
) -> OutboxEvent:
    """Return the outbox event of a placed order, with each product's stock after it."""
    # The client's Idempotency-Key, when it sent one: the same key on two events is one
    # purchase placed twice (chaos.exporter.invariants counts them).
    keyed = {"request_key": request_key} if request_key is not None else {}
    return OutboxEvent(
        topic="order.placed",
        payload={
            **keyed,
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


def _violated(exc: IntegrityError) -> str | None:
    """Return the name of the unique constraint an IntegrityError violated, if it is one."""
    if sqlstate(exc) != UNIQUE_VIOLATION:
        return None
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


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
