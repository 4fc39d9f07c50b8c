"""Repricing: a product's new price asked of the pricing service (a remote call), then saved.

The `external_call_in_transaction` bug lives here, next to its fix: the bug
asks the pricing service while it holds the product's row lock, so every
checkout of that product waits for the remote call; the fix asks first, with
no transaction open, and then saves the price in a short transaction that
gives up on a lock it cannot get quickly.

The pricing service is simulated: it takes `pricing_call_ms` (a runtime
setting) and moves the price by up to 2 %, as a supplier's price feed would.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from target_app.errors import Conflict, NotFound
from target_app.models import Product
from target_app.switches import SwitchBoard

#: The fix's transaction waits at most this long for the row lock (checkouts hold it for ms).
LOCK_TIMEOUT = "1s"
MAX_CHANGE = 0.02


def quote_price(price_cents: int, *, call_s: float, rng: random.Random | None = None) -> int:
    """Ask the (simulated) pricing service for a product's price: it takes `call_s`."""
    if call_s:
        time.sleep(call_s)  # the remote call (gevent yields here)
    rng = rng or random.Random()
    return max(1, round(price_cents * (1 + rng.uniform(-MAX_CHANGE, MAX_CHANGE))))


def reprice(
    *,
    product_id: int,
    open_session: Callable[[], Session],
    switches: SwitchBoard,
    call_s: float,
) -> Product:
    """Set a product's price to the pricing service's quote; return the product."""
    session = open_session()
    try:
        if switches.is_on("external_call_in_transaction"):
            return _reprice_holding_the_lock(session, product_id, call_s)
        return _reprice_then_save(session, product_id, call_s)
    finally:
        session.close()


def _reprice_holding_the_lock(session: Session, product_id: int, call_s: float) -> Product:
    # BUG: the row is locked first and the remote call made inside the transaction.
    # For as long as the pricing service takes, this connection sits idle in
    # transaction holding the lock, and every checkout of the product queues behind it.
    product = session.get(Product, product_id, with_for_update=True)
    if product is None:
        raise NotFound(f"product {product_id} not found")
    product.price_cents = quote_price(product.price_cents, call_s=call_s)
    session.commit()
    return product


def _reprice_then_save(session: Session, product_id: int, call_s: float) -> Product:
    # FIX: read, and end the transaction before the remote call ...
    seen = session.scalar(select(Product.price_cents).where(Product.id == product_id))
    session.rollback()
    if seen is None:
        raise NotFound(f"product {product_id} not found")
    new_price = quote_price(seen, call_s=call_s)
    # ... then save in a short transaction that will not queue for long behind checkouts,
    # and only if the price is still the one the quote was made from.
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    saved = session.execute(
        update(Product)
        .where(Product.id == product_id, Product.price_cents == seen)
        .values(price_cents=new_price)
        .returning(Product.id)
    ).first()
    if saved is None:
        session.rollback()
        raise Conflict(f"the price of product {product_id} changed meanwhile; reprice it again")
    session.commit()
    product = session.get(Product, product_id)
    if product is None:  # deleted right after the update: nothing to show
        raise NotFound(f"product {product_id} not found")
    return product
