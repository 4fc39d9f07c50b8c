"""`unlocked_stock_update`: unlocked read-check-write checkouts sell the same units twice; locked rows do not."""

from __future__ import annotations

from collections.abc import Callable

import gevent
import pytest
from flask import Flask
from sqlalchemy import Engine, text

from tests.conftest import AppFactory

STOCK = 2
BUYERS = 6


def stock_of(db: Engine, product_id: int) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                text("SELECT stock FROM products WHERE id = :id"), {"id": product_id}
            ).scalar_one()
        )


def units_sold(db: Engine, product_id: int) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                text("SELECT coalesce(sum(quantity), 0) FROM order_items WHERE product_id = :id"),
                {"id": product_id},
            ).scalar_one()
        )


def stock_seen_by_each_checkout(db: Engine, product_id: int) -> list[int]:
    """The stock each checkout saw, from its order.placed event: stock_after + quantity."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT (line->>'stock_after')::int + (line->>'quantity')::int "
                "FROM outbox_events, jsonb_array_elements(payload->'items') AS line "
                "WHERE topic = 'order.placed' AND (line->>'product_id')::int = :id"
            ),
            {"id": product_id},
        ).all()
    return sorted(seen for (seen,) in rows)


def checkout_at_once(app: Flask, carts: list[int]) -> list[int]:
    """Check every cart out at the same moment; return the status codes."""

    def checkout(cart_id: int) -> int:
        return app.test_client().post(f"/carts/{cart_id}/checkout").status_code

    jobs = [gevent.spawn(checkout, cart_id) for cart_id in carts]
    gevent.joinall(jobs, raise_error=True)
    return [job.value for job in jobs]


@pytest.mark.slow
def test_unlocked_stock_update_sells_units_twice(
    make_app: AppFactory,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    # A pause between reading the stock and writing it (a pricing call) lets every buyer read first.
    app = make_app(checkout_lock_pause_ms=100, pool_size=BUYERS)
    app.extensions["switches"].set("unlocked_stock_update", True)
    (product,) = new_products(STOCK)

    statuses = checkout_at_once(app, [new_cart((product, 1)) for _ in range(BUYERS)])

    # Every buyer read a stock of 2, checked 2 >= 1 and wrote back 1: all of them were sold a unit.
    assert statuses == [201] * BUYERS
    assert units_sold(db, product) == BUYERS > STOCK
    assert stock_of(db, product) == STOCK - 1  # the last write won; the other decrements were lost
    assert stock_seen_by_each_checkout(db, product) == [STOCK] * BUYERS


@pytest.mark.slow
def test_locked_rows_sell_each_unit_once(
    make_app: AppFactory,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    app = make_app(checkout_lock_pause_ms=100, pool_size=BUYERS)
    assert app.extensions["switches"].is_on("unlocked_stock_update") is False
    (product,) = new_products(STOCK)

    statuses = checkout_at_once(app, [new_cart((product, 1)) for _ in range(BUYERS)])

    assert sorted(statuses) == [201] * STOCK + [409] * (BUYERS - STOCK)
    assert units_sold(db, product) == STOCK
    assert stock_of(db, product) == 0
    # Each checkout saw the stock its predecessor left: no two saw the same units.
    assert stock_seen_by_each_checkout(db, product) == list(range(1, STOCK + 1))
