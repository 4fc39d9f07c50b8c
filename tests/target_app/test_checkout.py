"""Carts and checkout against the real database: stock, outbox and order in one transaction."""

from __future__ import annotations

from collections.abc import Callable

import gevent
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from target_app.models import OutboxEvent, Product


def stock_of(db: Engine, *ids: int) -> list[int]:
    with db.connect() as conn:
        rows = dict(
            conn.execute(select(Product.id, Product.stock).where(Product.id.in_(ids))).all()
        )
    return [rows[i] for i in ids]


def test_cart_add_again_raises_quantity_and_remove(
    client: FlaskClient, new_products: Callable[..., list[int]]
) -> None:
    a, b = new_products(10, 10)
    cart = client.post("/carts")
    assert cart.status_code == 201
    cart_id = cart.get_json()["id"]
    client.post(f"/carts/{cart_id}/items", json={"product_id": a, "quantity": 2})
    client.post(f"/carts/{cart_id}/items", json={"product_id": b, "quantity": 1})
    body = client.post(f"/carts/{cart_id}/items", json={"product_id": a, "quantity": 3}).get_json()
    assert body["items"] == [{"product_id": a, "quantity": 5}, {"product_id": b, "quantity": 1}]
    removed = client.delete(f"/carts/{cart_id}/items/{a}")
    assert removed.status_code == 200
    assert client.get(f"/carts/{cart_id}").get_json()["items"] == [{"product_id": b, "quantity": 1}]
    assert client.delete(f"/carts/{cart_id}/items/{a}").status_code == 404


def test_checkout_places_order_decrements_stock_and_writes_event(
    client: FlaskClient,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    a, b = new_products(10, 4, price_cents=250)
    cart_id = new_cart((a, 3), (b, 4))
    response = client.post(f"/carts/{cart_id}/checkout")
    assert response.status_code == 201
    order = response.get_json()
    assert order["status"] == "pending_payment"
    assert order["total_cents"] == 7 * 250
    assert [(i["product_id"], i["quantity"]) for i in order["items"]] == [(a, 3), (b, 4)]
    assert stock_of(db, a, b) == [7, 0]
    with db.connect() as conn:
        payloads = conn.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.topic == "order.placed")
        ).all()
    event = next(p for p in payloads if p["order_id"] == order["id"])
    assert [(i["product_id"], i["stock_after"]) for i in event["items"]] == [(a, 7), (b, 0)]
    assert client.get(f"/carts/{cart_id}").get_json()["checked_out"] is True
    assert client.get(f"/orders/{order['id']}").get_json()["id"] == order["id"]


def test_checkout_out_of_stock_is_409_and_changes_nothing(
    client: FlaskClient,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    a, b = new_products(5, 1)
    cart_id = new_cart((a, 2), (b, 3))
    response = client.post(f"/carts/{cart_id}/checkout")
    assert response.status_code == 409
    assert response.get_json()["short"] == [{"product_id": b, "requested": 3, "available": 1}]
    assert stock_of(db, a, b) == [5, 1]
    assert client.get(f"/carts/{cart_id}").get_json()["checked_out"] is False


def test_checkout_twice_is_409_and_empty_cart_is_422(
    client: FlaskClient, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    (a,) = new_products(5)
    cart_id = new_cart((a, 1))
    assert client.post(f"/carts/{cart_id}/checkout").status_code == 201
    again = client.post(f"/carts/{cart_id}/checkout")
    assert again.status_code == 409
    assert "already checked out" in again.get_json()["error"]
    assert client.post(f"/carts/{new_cart()}/checkout").status_code == 422


def test_order_history_lists_newest_first(
    app: Flask, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    (a,) = new_products(10)
    client = app.test_client(user_id=3)
    ids = [
        client.post(f"/carts/{new_cart((a, 1), user_id=3)}/checkout").get_json()["id"]
        for _ in range(2)
    ]
    history = client.get("/users/3/orders?per_page=2").get_json()
    assert [o["id"] for o in history["items"]] == sorted(ids, reverse=True)
    assert history["total"] >= 2


def test_one_cart_checked_out_twice_at_once_makes_one_order(
    app, db: Engine, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    (a,) = new_products(10)
    cart_id = new_cart((a, 2))
    jobs = [
        gevent.spawn(lambda: app.test_client().post(f"/carts/{cart_id}/checkout").status_code)
        for _ in range(4)
    ]
    gevent.joinall(jobs, raise_error=True)
    assert sorted(job.value for job in jobs) == [201, 409, 409, 409]
    assert stock_of(db, a) == [8]


def test_concurrent_adds_of_one_product_all_count(
    app, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    (a,) = new_products(10)
    cart_id = new_cart()

    def add() -> int:
        response = app.test_client().post(
            f"/carts/{cart_id}/items", json={"product_id": a, "quantity": 1}
        )
        return response.status_code

    jobs = [gevent.spawn(add) for _ in range(6)]
    gevent.joinall(jobs, raise_error=True)
    assert [job.value for job in jobs] == [200] * 6
    assert app.test_client().get(f"/carts/{cart_id}").get_json()["items"] == [
        {"product_id": a, "quantity": 6}
    ]
