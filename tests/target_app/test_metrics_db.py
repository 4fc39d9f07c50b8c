"""Statement duration by operation and statements per request, on the real database."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.exc import DataError

from target_app.instrumentation.db_metrics import operation_of
from tests.conftest import recorded_statements
from tests.target_app.metrics_text import value

DURATION = "shop_db_statement_duration_seconds"
PER_REQUEST = "shop_db_queries_per_request"
CHECKOUT = "/carts/<int:cart_id>/checkout"


@pytest.fixture(autouse=True)
def connected(app: Flask) -> None:
    """Open the engine's first connection up front: SQLAlchemy's set-up queries are counted too."""
    with app.extensions["db_engine"].connect():
        pass


def scrape(client: FlaskClient) -> str:
    return client.get("/metrics").get_data(as_text=True)


@pytest.mark.parametrize(
    ("statement", "operation"),
    [
        ("SELECT products.id FROM products", "SELECT"),
        ("  \n\tselect 1", "SELECT"),
        ("UPDATE products SET stock=%(stock)s", "UPDATE"),
        ("INSERT INTO orders (user_id) VALUES (%(user_id)s) RETURNING orders.id", "INSERT"),
        ("DELETE FROM cart_items", "DELETE"),
        ("/* traceparent='00-ab' */ SELECT 1", "SELECT"),
        ("WITH t AS (SELECT 1) SELECT * FROM t", "WITH"),
        ("VACUUM products", "OTHER"),
        ("/* unterminated", "OTHER"),
        ("", "OTHER"),
    ],
)
def test_operation_is_the_first_keyword(statement: str, operation: str) -> None:
    assert operation_of(statement) == operation


def test_statements_are_timed_by_operation(
    app: Flask,
    client: FlaskClient,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    (a,) = new_products(5)
    cart_id = new_cart((a, 2))
    before = scrape(client)
    with recorded_statements(app) as seen:
        assert client.post(f"/carts/{cart_id}/checkout").status_code == 201
    after = scrape(client)

    for operation in ("SELECT", "UPDATE", "INSERT"):
        ran = sum(operation_of(s) == operation for s in seen)
        assert ran > 0, f"checkout ran no {operation}"
        count = f"{DURATION}_count"
        # /metrics runs no SQL: the difference is the checkout's statements alone.
        assert (
            value(after, count, operation=operation) - value(before, count, operation=operation)
            == ran
        ), operation


def test_a_failing_statement_is_timed_too(app: Flask, client: FlaskClient) -> None:
    before = scrape(client)
    with app.extensions["db_engine"].connect() as conn:
        conn.execute(text("SELECT pg_sleep(0.2)"))
        with pytest.raises(DataError):
            conn.execute(text("SELECT 1/0"))
    after = scrape(client)

    count = f"{DURATION}_count"
    assert value(after, count, operation="SELECT") - value(before, count, operation="SELECT") == 2
    assert (
        value(after, f"{DURATION}_sum", operation="SELECT")
        - value(before, f"{DURATION}_sum", operation="SELECT")
        >= 0.2
    )


def test_queries_per_request_counts_each_requests_statements(
    app: Flask,
    client: FlaskClient,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    (a, b) = new_products(5, 5)
    cart_id = new_cart((a, 1), (b, 1))
    before = scrape(client)
    with recorded_statements(app) as seen:
        assert client.post(f"/carts/{cart_id}/checkout").status_code == 201
    checkout_statements = len(seen)
    with recorded_statements(app) as seen:
        assert client.get("/products?per_page=5").status_code == 200
    listing_statements = len(seen)
    after = scrape(client)

    assert checkout_statements > listing_statements > 0
    for route, statements in ((CHECKOUT, checkout_statements), ("/products", listing_statements)):
        count = value(after, f"{PER_REQUEST}_count", route=route) - value(
            before, f"{PER_REQUEST}_count", route=route
        )
        total = value(after, f"{PER_REQUEST}_sum", route=route) - value(
            before, f"{PER_REQUEST}_sum", route=route
        )
        assert (count, total) == (1, statements), route


def test_a_request_without_statements_counts_zero(client: FlaskClient) -> None:
    before = scrape(client)
    after = scrape(client)  # /metrics itself runs no SQL
    bucket = f"{PER_REQUEST}_bucket"
    assert (
        value(after, bucket, route="/metrics", le="0.0")
        - value(before, bucket, route="/metrics", le="0.0")
        == 1
    )


def test_statements_outside_a_request_count_towards_none(app: Flask, client: FlaskClient) -> None:
    before = scrape(client)
    with recorded_statements(app) as seen:
        with app.extensions["db_engine"].connect() as conn:
            conn.execute(text("SELECT 1"))
        outside = len(seen)
        assert client.get("/products?per_page=1").status_code == 200
    after = scrape(client)

    assert outside == 1
    assert (
        value(after, f"{PER_REQUEST}_sum", route="/products")
        - value(before, f"{PER_REQUEST}_sum", route="/products")
        == len(seen) - outside
    )
