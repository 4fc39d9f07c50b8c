"""`no_pool_pre_ping`: a pooled connection the server dropped fails a request; the ping replaces it."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
from flask import Flask
from prometheus_client import REGISTRY
from sqlalchemy import Engine, text

from tests.conftest import AppFactory, eventually


def shop_app(
    make_app: AppFactory, *, bug: bool, ping_after_idle_s: float = 0.0
) -> tuple[Flask, str]:
    """A shop app with one pooled connection, named so that only it is dropped."""
    name = f"test-stale-{uuid.uuid4().hex[:8]}"
    app = make_app(
        pool_size=1,
        pool_max_overflow=0,
        db_application_name=name,
        pool_ping_after_idle_s=ping_after_idle_s,
    )
    app.extensions["switches"].set("no_pool_pre_ping", bug)
    return app, name


def drop_connections(db: Engine, application_name: str) -> None:
    """End the app's backends server-side, as a restart or a firewall's idle timeout would."""
    with db.connect() as conn:
        ended = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name"
            ),
            {"name": application_name},
        ).scalar_one()
    assert ended == 1, f"expected the app's one pooled connection, ended {ended}"
    eventually(lambda: backends(db, application_name) == 0, "the backend to exit")


def dead_pings() -> float:
    return REGISTRY.get_sample_value("shop_db_pool_pings_total", {"outcome": "dead"}) or 0.0


def alive_pings() -> float:
    return REGISTRY.get_sample_value("shop_db_pool_pings_total", {"outcome": "alive"}) or 0.0


def backends(db: Engine, application_name: str) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": application_name},
            ).scalar_one()
        )


def test_without_a_ping_a_dropped_connection_fails_the_next_request(
    make_app: AppFactory, db: Engine, new_products: Callable[..., list[int]]
) -> None:
    app, name = shop_app(make_app, bug=True)
    (product,) = new_products(5)
    client = app.test_client()
    assert client.get(f"/products/{product}").status_code == 200  # the connection is pooled
    drop_connections(db, name)

    failed = client.get(f"/products/{product}")

    assert failed.status_code == 503
    assert failed.get_json()["error"] == "database unavailable"
    # SQLAlchemy noticed the disconnect and invalidated the pool: the next request reconnects.
    assert client.get(f"/products/{product}").status_code == 200


def test_the_ping_replaces_a_dropped_connection_before_the_request_uses_it(
    make_app: AppFactory, db: Engine, new_products: Callable[..., list[int]]
) -> None:
    app, name = shop_app(make_app, bug=False)
    (product,) = new_products(5)
    client = app.test_client()
    assert client.get(f"/products/{product}").status_code == 200
    drop_connections(db, name)

    pings = dead_pings()
    assert client.get(f"/products/{product}").status_code == 200
    assert backends(db, name) == 1  # a new connection took the dropped one's place
    assert dead_pings() == pings + 1


def test_a_connection_returned_within_the_window_is_handed_out_unpinged(
    make_app: AppFactory, db: Engine, new_products: Callable[..., list[int]]
) -> None:
    # The window's price: a connection dropped within it is not caught. It must stay below
    # the shortest idle timeout on the path, where nothing drops a connection that recent.
    app, name = shop_app(make_app, bug=False, ping_after_idle_s=3600)
    (product,) = new_products(5)
    client = app.test_client()
    assert client.get(f"/products/{product}").status_code == 200
    drop_connections(db, name)

    assert client.get(f"/products/{product}").status_code == 503


def test_the_ping_leaves_no_transaction_open(
    make_app: AppFactory, new_products: Callable[..., list[int]]
) -> None:
    # The request's transaction starts with its own first statement, not at the ping.
    app, _name = shop_app(make_app, bug=False)
    (product,) = new_products(5)
    assert app.test_client().get(f"/products/{product}").status_code == 200
    pings = alive_pings()
    with app.extensions["db_engine"].connect() as conn:  # pinged: idle for more than 0 s
        raw = conn.connection.dbapi_connection
        assert raw is not None
        assert raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert raw.autocommit is False
    assert alive_pings() == pings + 1
