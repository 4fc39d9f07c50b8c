"""Buy now: one product bought in one request, without a cart the shopper fills first.

The `buy_now_ignores_idempotency_key` bug lives here, next to its fix. A cart
checkout is idempotent by nature (a cart is checked out once: a second attempt
is refused), but a one-click purchase creates something new on every request:
only the client's Idempotency-Key tells a retry from a second purchase. A
mobile client whose request timed out cannot know whether the order was
placed, so it retries with the same key; the shop must answer the retry with
the order the first attempt placed.

Behind the scenes a purchase is a one-line cart checked out at once, through
the same code as every checkout (target_app.services.checkout).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from target_app.errors import NotFound, Unprocessable
from target_app.models import Cart, CartItem, Order, Product, User
from target_app.services.checkout import IdempotencyKeyReused, Placed, place_in_session
from target_app.switches import SwitchBoard


class KeyUsedForAnotherPurchase(Unprocessable):
    """An Idempotency-Key already used for a different purchase."""

    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was already used for a different purchase; "
            "send a new key for a new purchase"
        )


def buy_now(
    *,
    user_id: int,
    product_id: int,
    quantity: int,
    open_session: Callable[[], Session],
    switches: SwitchBoard,
    idempotency_key: str | None = None,
) -> Placed:
    """Place an order for `quantity` units of one product, in one transaction."""
    honoured = idempotency_key
    if switches.is_on("buy_now_ignores_idempotency_key"):
        # BUG: the key is not looked at. A retry of a purchase whose answer the client
        # never got (a timeout, a dropped connection) is a second purchase: a second
        # order, a second payment. The order.placed event still carries the key.
        honoured = None
    # FIX (the switch off): a purchase with a key is placed once; a retry gets the
    # first order back.
    session = open_session()
    try:
        if honoured is not None and (
            earlier := _replay(session, honoured, user_id, product_id, quantity)
        ):
            return earlier
        try:
            return _place(
                session, user_id, product_id, quantity, switches, honoured, idempotency_key
            )
        except IdempotencyKeyReused:
            # Another request with this key placed its order while this one ran: the
            # client sent its retry before the first answer came back.
            session.rollback()
            if honoured is not None and (
                earlier := _replay(session, honoured, user_id, product_id, quantity)
            ):
                return earlier
            raise KeyUsedForAnotherPurchase() from None
    finally:
        session.close()


def _replay(
    session: Session, key: str, user_id: int, product_id: int, quantity: int
) -> Placed | None:
    """Return the order placed earlier with this key, None if there is none."""
    earlier = session.scalars(select(Order).where(Order.idempotency_key == key)).one_or_none()
    if earlier is None:
        return None
    lines = [(item.product_id, item.quantity) for item in earlier.items]
    if earlier.user_id != user_id or lines != [(product_id, quantity)]:
        raise KeyUsedForAnotherPurchase()
    session.commit()  # nothing written; the order stays loaded
    return Placed(earlier, replayed=True)


def _place(
    session: Session,
    user_id: int,
    product_id: int,
    quantity: int,
    switches: SwitchBoard,
    key: str | None,
    request_key: str | None,
) -> Placed:
    if session.get(User, user_id) is None:
        raise NotFound(f"user {user_id} not found")
    # The product row is locked before the cart line that refers to it is written: the
    # line's foreign key check takes a share lock on it, and two purchases of one product
    # that each held that share lock and then asked for the row lock would deadlock.
    if session.get(Product, product_id, with_for_update=True) is None:
        raise NotFound(f"product {product_id} not found")
    cart = Cart(user_id=user_id)
    cart.items.append(CartItem(product_id=product_id, quantity=quantity))
    session.add(cart)
    session.flush()
    return place_in_session(session, cart.id, switches, 0.0, key, request_key)
