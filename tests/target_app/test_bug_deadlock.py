"""`lock_in_cart_order`: checkouts locking rows in cart order deadlock in PostgreSQL; sorted order does not."""

from __future__ import annotations

from collections.abc import Callable

import gevent
import pytest
from flask import Flask
from sqlalchemy import Engine, text

from tests.conftest import AppFactory, eventually

PAIRS = 6


def deadlocks_so_far(db: Engine) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
        )


def checkout_crossed_pairs(
    app: Flask, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> list[tuple[int, dict[str, object]]]:
    """Check out PAIRS pairs of carts at once, each pair holding two products in opposite order."""
    carts = []
    for _ in range(PAIRS):
        a, b = new_products(100, 100)
        carts += [new_cart((a, 1), (b, 1)), new_cart((b, 1), (a, 1))]

    def checkout(cart_id: int) -> tuple[int, dict[str, object]]:
        response = app.test_client().post(f"/carts/{cart_id}/checkout")
        return response.status_code, response.get_json()

    jobs = [gevent.spawn(checkout, cart_id) for cart_id in carts]
    gevent.joinall(jobs, raise_error=True)
    return [job.value for job in jobs]


@pytest.mark.slow
def test_cart_order_locking_deadlocks(
    make_app: AppFactory,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    # A pause while holding each lock (a pricing call) lets both checkouts of a pair take their first lock.
    app = make_app(checkout_lock_pause_ms=100, pool_size=2 * PAIRS)
    app.extensions["switches"].set("lock_in_cart_order", True)
    before = deadlocks_so_far(db)

    results = checkout_crossed_pairs(app, new_products, new_cart)

    deadlocked = [body for status, body in results if status == 503]
    assert deadlocked, f"no deadlock among {results}"
    assert all(body["sqlstate"] == "40P01" for body in deadlocked)
    # PostgreSQL flushes its statistics asynchronously: wait for the count to show.
    eventually(
        lambda: deadlocks_so_far(db) - before == len(deadlocked), "deadlocks in pg_stat_database"
    )
    # PostgreSQL aborts one transaction of each cycle; its partner completes.
    assert sum(status == 201 for status, _ in results) == len(results) - len(deadlocked)


@pytest.mark.slow
def test_sorted_locking_never_deadlocks(
    make_app: AppFactory,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    app = make_app(checkout_lock_pause_ms=100, pool_size=2 * PAIRS)
    assert app.extensions["switches"].is_on("lock_in_cart_order") is False
    before = deadlocks_so_far(db)

    results = checkout_crossed_pairs(app, new_products, new_cart)

    assert [status for status, _ in results] == [201] * len(results)
    assert deadlocks_so_far(db) == before
