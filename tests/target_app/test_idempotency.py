"""Checkout with an Idempotency-Key: a repeated request returns the first order, never a second."""

from __future__ import annotations

from collections.abc import Callable

import gevent
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from target_app.models import Order, Product
from tests.conftest import AppFactory


def orders_with_key(db: Engine, key: str) -> list[tuple[int, int]]:
    with db.connect() as conn:
        return [
            (row.id, row.cart_id)
            for row in conn.execute(
                select(Order.id, Order.cart_id).where(Order.idempotency_key == key)
            )
        ]


def stock(db: Engine, product_id: int) -> int:
    with db.connect() as conn:
        return int(conn.scalar(select(Product.stock).where(Product.id == product_id)) or 0)


def checkout(client: FlaskClient, cart_id: int, key: str | None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(f"/carts/{cart_id}/checkout", headers=headers)


def test_a_repeated_checkout_returns_the_first_order(
    client: FlaskClient,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    (product,) = new_products(5)
    cart_id = new_cart((product, 2))
    first = checkout(client, cart_id, "key-repeat-1")
    again = checkout(client, cart_id, "key-repeat-1")

    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert orders_with_key(db, "key-repeat-1") == [(first.get_json()["id"], cart_id)]
    assert stock(db, product) == 3  # decremented once


def test_without_a_key_a_repeated_checkout_is_still_refused(
    client: FlaskClient, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    (product,) = new_products(5)
    cart_id = new_cart((product, 1))
    assert checkout(client, cart_id, None).status_code == 201
    assert checkout(client, cart_id, None).status_code == 409
    assert checkout(client, cart_id, "a-key-never-used-here").status_code == 409


def test_a_key_reused_on_another_cart_is_refused(
    client: FlaskClient,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    (product,) = new_products(5)
    first_cart, other_cart = new_cart((product, 1)), new_cart((product, 1))
    assert checkout(client, first_cart, "key-reused").status_code == 201
    refused = checkout(client, other_cart, "key-reused")
    assert refused.status_code == 422
    assert "different cart" in refused.get_json()["error"]
    assert client.get(f"/carts/{other_cart}").get_json()["checked_out"] is False
    assert stock(db, product) == 4
    assert checkout(client, other_cart, "key-fresh").status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "naïve"])
def test_a_malformed_key_is_a_clear_400(client: FlaskClient, key: str) -> None:
    response = client.post("/carts/1/checkout", headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.get_json()["error"]


def concurrent_checkouts(app: Flask, requests: list[tuple[int, str]]) -> list[tuple[int, dict]]:
    """Post the checkouts at once, each from a client (and connection) of its own."""

    def post(cart_id: int, key: str) -> tuple[int, dict]:
        response = checkout(app.test_client(), cart_id, key)
        return response.status_code, response.get_json()

    jobs = [gevent.spawn(post, cart_id, key) for cart_id, key in requests]
    gevent.joinall(jobs, raise_error=True)
    return [job.value for job in jobs]


@pytest.mark.slow
def test_a_double_submit_at_once_makes_one_order(
    make_app: AppFactory,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    # The pause holds the first checkout's locks long enough for the second to arrive.
    app = make_app(checkout_lock_pause_ms=200)
    (product,) = new_products(5)
    cart_id = new_cart((product, 1))

    results = concurrent_checkouts(app, [(cart_id, "key-double")] * 2)

    assert sorted(status for status, _ in results) == [200, 201]
    assert results[0][1]["id"] == results[1][1]["id"]
    assert len(orders_with_key(db, "key-double")) == 1
    assert stock(db, product) == 4


@pytest.mark.slow
def test_one_key_on_two_carts_at_once_makes_one_order(
    make_app: AppFactory,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    app = make_app(checkout_lock_pause_ms=200)
    a, b = new_products(5, 5)
    carts = [new_cart((a, 1)), new_cart((b, 1))]

    results = concurrent_checkouts(app, [(cart_id, "key-two-carts") for cart_id in carts])

    assert sorted(status for status, _ in results) == [201, 422]
    assert len(orders_with_key(db, "key-two-carts")) == 1
    assert sorted([stock(db, a), stock(db, b)]) == [4, 5]  # the refused one changed nothing
    with db.connect() as conn:
        placed = conn.scalar(select(func.count()).where(Order.cart_id.in_(carts)))
    assert placed == 1
