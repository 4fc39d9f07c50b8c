"""`buy_now_ignores_idempotency_key`: a purchase retried with its key is placed twice."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import gevent
import pytest
from flask import Flask
from sqlalchemy import Engine, text

from tests.conftest import AppFactory


def buy(app: Flask, product: int, key: str | None, *, quantity: int = 1, user: int = 1) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    body = {"product_id": product, "quantity": quantity}
    return app.test_client(user_id=user).post("/orders", json=body, headers=headers)


def orders_placed_with(db: Engine, key: str) -> list[int]:
    """Return the orders whose order.placed event carries this client key."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT (payload->>'order_id')::int FROM outbox_events "
                "WHERE topic = 'order.placed' AND payload->>'request_key' = :k ORDER BY id"
            ),
            {"k": key},
        )
        return [row[0] for row in rows]


def stock(db: Engine, product: int) -> int:
    with db.connect() as conn:
        return int(conn.scalar(text("SELECT stock FROM products WHERE id = :p"), {"p": product}))


@pytest.fixture
def app_with_bug(make_app: AppFactory) -> Flask:
    app = make_app()
    app.extensions["switches"].set("buy_now_ignores_idempotency_key", True)
    return app


def test_with_the_bug_a_retried_purchase_is_a_second_order(
    app_with_bug: Flask, db: Engine, new_products: Callable[..., list[int]]
) -> None:
    (product,) = new_products(5)
    key = f"retry-{uuid.uuid4()}"
    first, retry = buy(app_with_bug, product, key), buy(app_with_bug, product, key)

    assert first.status_code == retry.status_code == 201
    assert first.get_json()["id"] != retry.get_json()["id"]
    assert orders_placed_with(db, key) == [first.get_json()["id"], retry.get_json()["id"]]
    assert stock(db, product) == 3  # sold twice, paid twice


def test_with_the_fix_a_retry_gets_the_first_order_back(
    app: Flask, db: Engine, new_products: Callable[..., list[int]]
) -> None:
    (product,) = new_products(5)
    key = f"retry-{uuid.uuid4()}"
    first, retry = buy(app, product, key, quantity=2), buy(app, product, key, quantity=2)

    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json() == first.get_json()
    assert first.get_json()["items"][0]["quantity"] == 2
    assert orders_placed_with(db, key) == [first.get_json()["id"]]
    assert stock(db, product) == 3


def test_purchases_without_a_key_are_each_an_order(
    app: Flask, new_products: Callable[..., list[int]]
) -> None:
    (product,) = new_products(5)
    answers = [buy(app, product, None) for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].get_json()["id"] != answers[1].get_json()["id"]


def test_a_key_sent_with_another_purchase_is_refused(
    app: Flask, db: Engine, new_products: Callable[..., list[int]]
) -> None:
    a, b = new_products(5, 5)
    key = f"reused-{uuid.uuid4()}"
    assert buy(app, a, key).status_code == 201
    for other in (buy(app, b, key), buy(app, a, key, quantity=2), buy(app, a, key, user=2)):
        assert other.status_code == 422, other.get_json()
        assert "different purchase" in other.get_json()["error"]
    assert (stock(db, a), stock(db, b)) == (4, 5)


@pytest.mark.slow
def test_with_the_fix_two_attempts_at_once_place_one_order(
    app: Flask, db: Engine, new_products: Callable[..., list[int]]
) -> None:
    """The retry may arrive while the first attempt still runs: the key's constraint decides."""
    (product,) = new_products(50)
    for n in range(5):
        key = f"race-{n}-{uuid.uuid4()}"
        jobs = [gevent.spawn(buy, app, product, key) for _ in range(3)]
        gevent.joinall(jobs, raise_error=True)
        answers = [job.value for job in jobs]
        assert sorted(a.status_code for a in answers) == [200, 200, 201], [
            a.get_json() for a in answers
        ]
        assert len({a.get_json()["id"] for a in answers}) == 1
        assert len(orders_placed_with(db, key)) == 1
    assert stock(db, product) == 45


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"product_id": 2**31 - 1, "quantity": 1}, 404),
        ({"product_id": 1, "quantity": 0}, 422),
        ({"product_id": 1}, 422),
        ({"product_id": 1, "quantity": 1, "coupon": "x"}, 422),
        # The buyer is the access token's user: nobody buys in another's name.
        ({"user_id": 2, "product_id": 1, "quantity": 1}, 422),
    ],
)
def test_bad_purchases_get_clear_answers(app: Flask, body: dict[str, int], status: int) -> None:
    response = app.test_client().post("/orders", json=body)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"] if status == 404 else response.get_json()


def test_a_malformed_key_is_a_clear_400(app: Flask, new_products: Callable[..., list[int]]) -> None:
    (product,) = new_products(5)
    response = buy(app, product, "has space")
    assert response.status_code == 400
    assert "Idempotency-Key" in response.get_json()["error"]


def test_more_than_the_stock_is_refused(app: Flask, new_products: Callable[..., list[int]]) -> None:
    (product,) = new_products(1)
    response = buy(app, product, f"k-{uuid.uuid4()}", quantity=2)
    assert response.status_code == 409
    assert response.get_json()["short"][0]["available"] == 1


@pytest.mark.slow
def test_purchases_of_one_product_at_once_do_not_deadlock(
    app: Flask, db: Engine, new_products: Callable[..., list[int]]
) -> None:
    """Each holds the product row before its cart line's foreign key check shares it."""
    (product,) = new_products(50)
    jobs = [gevent.spawn(buy, app, product, f"many-{n}-{uuid.uuid4()}") for n in range(6)]
    gevent.joinall(jobs, raise_error=True)
    assert [job.value.status_code for job in jobs] == [201] * 6, [j.value.get_json() for j in jobs]
    assert stock(db, product) == 44
