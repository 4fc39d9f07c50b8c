"""`external_call_in_transaction`: a reprice holding the row lock across the pricing call blocks checkouts."""

from __future__ import annotations

from collections.abc import Callable

import gevent
import pytest
from flask import Flask
from sqlalchemy import Engine, text

from tests.conftest import AppFactory, eventually

#: Long enough that a checkout always starts, and ends, within the call.
PRICING_CALL_MS = 3000

IDLE_HOLDERS = """
SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND state = 'idle in transaction'
  AND query ILIKE '%FROM products%FOR UPDATE%'
"""
BLOCKED_BY = """
SELECT DISTINCT unnest(pg_blocking_pids(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock'
"""


def pids(db: Engine, sql: str) -> set[int]:
    with db.connect() as conn:
        return {pid for (pid,) in conn.execute(text(sql))}


def post(app: Flask, path: str) -> int:
    return app.test_client().post(path).status_code


@pytest.mark.slow
def test_a_reprice_holding_the_lock_makes_checkouts_wait(
    make_app: AppFactory,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    app = make_app(pricing_call_ms=PRICING_CALL_MS)
    app.extensions["switches"].set("external_call_in_transaction", True)
    (product,) = new_products(10)
    cart_id = new_cart((product, 1))

    reprice = gevent.spawn(post, app, f"/products/{product}/reprice")
    # The reprice's connection: idle in its transaction after SELECT ... FOR UPDATE, in the call.
    eventually(lambda: pids(db, IDLE_HOLDERS), "a session idle in transaction")
    holders = pids(db, IDLE_HOLDERS)
    checkout = gevent.spawn(post, app, f"/carts/{cart_id}/checkout")
    # The checkout waits for the row lock, and PostgreSQL names the idle session as the blocker.
    eventually(lambda: pids(db, BLOCKED_BY) & holders, "a checkout blocked by the idle session")
    assert not checkout.ready()

    gevent.joinall([reprice, checkout], raise_error=True)
    assert (reprice.value, checkout.value) == (200, 201)


@pytest.mark.slow
def test_a_reprice_that_calls_first_blocks_no_one(
    make_app: AppFactory,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    app = make_app(pricing_call_ms=PRICING_CALL_MS)
    assert app.extensions["switches"].is_on("external_call_in_transaction") is False
    (product,) = new_products(10)
    cart_id = new_cart((product, 1))

    reprice = gevent.spawn(post, app, f"/products/{product}/reprice")
    gevent.sleep(0)  # the reprice reads the price and starts its call

    assert post(app, f"/carts/{cart_id}/checkout") == 201  # no wait for the call
    assert not reprice.ready()  # the call is still in flight
    assert pids(db, IDLE_HOLDERS) == set()
    reprice.join()
    assert reprice.value == 200
    with db.connect() as conn:
        stock = conn.execute(text("SELECT stock FROM products WHERE id = :p"), {"p": product})
        assert stock.scalar_one() == 9  # the checkout's decrement survived the price update
