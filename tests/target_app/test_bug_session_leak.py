"""`leak_session_on_error`: failed checkouts keep their connections until the pool times out."""

from __future__ import annotations

from collections.abc import Callable

import gevent
import pytest
from flask import Flask
from sqlalchemy import Engine, text

from tests.conftest import AppFactory

POOL_SIZE = 3
FAILED_CHECKOUTS = 8


def idle_in_transaction(db: Engine, application_name: str) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE state = 'idle in transaction' AND application_name = :name"
                ),
                {"name": application_name},
            ).scalar_one()
        )


def fail_checkouts_concurrently(app: Flask, cart_ids: list[int]) -> list[int]:
    def checkout(cart_id: int) -> int:
        return app.test_client().post(f"/carts/{cart_id}/checkout").status_code

    jobs = [gevent.spawn(checkout, cart_id) for cart_id in cart_ids]
    gevent.joinall(jobs, raise_error=True)
    return [job.value for job in jobs]


def small_pool_app(make_app: AppFactory, name: str) -> Flask:
    # A name of its own, so pg_stat_activity shows this app's connections only.
    return make_app(
        pool_size=POOL_SIZE, pool_max_overflow=0, pool_timeout_s=0.5, db_application_name=name
    )


@pytest.mark.slow
def test_leaked_sessions_exhaust_the_pool(
    make_app: AppFactory,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    app = small_pool_app(make_app, "leak-bug-test")
    app.extensions["switches"].set("leak_session_on_error", True)
    (sold_out,) = new_products(0)

    statuses = fail_checkouts_concurrently(
        app, [new_cart((sold_out, 1)) for _ in range(FAILED_CHECKOUTS)]
    )

    # The first POOL_SIZE failures leak their connections; the rest wait and time out.
    assert statuses.count(409) == POOL_SIZE
    assert statuses.count(503) == FAILED_CHECKOUTS - POOL_SIZE
    assert idle_in_transaction(db, "leak-bug-test") == POOL_SIZE
    after = app.test_client().get("/products/1")
    assert after.status_code == 503
    assert after.get_json()["error"] == "database connection pool exhausted, try again later"


@pytest.mark.slow
def test_closed_sessions_keep_the_pool_healthy(
    make_app: AppFactory,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    app = small_pool_app(make_app, "leak-fix-test")
    (sold_out,) = new_products(0)

    statuses = fail_checkouts_concurrently(
        app, [new_cart((sold_out, 1)) for _ in range(FAILED_CHECKOUTS)]
    )

    assert statuses == [409] * FAILED_CHECKOUTS
    assert idle_in_transaction(db, "leak-fix-test") == 0
    assert app.test_client().get("/products/1").status_code == 200
