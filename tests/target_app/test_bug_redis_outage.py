"""`publish_after_commit`: with Redis unreachable, a dual write loses the event and the payment."""

from __future__ import annotations

import socket
from collections.abc import Callable

import requests
from flask import Flask
from redis import Redis
from sqlalchemy import Engine, text

from chaos.stack.manager import Stack
from tests.conftest import AppFactory, eventually, login_headers

STREAM = "shop:events"


def unreachable_redis_url() -> str:
    """A loopback port nothing listens on: connections are refused, as through a proxy that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def checkout(app: Flask, cart_id: int) -> int:
    response = app.test_client().post(f"/carts/{cart_id}/checkout")
    assert response.status_code == 201, response.get_json()  # the order is taken either way
    return int(response.get_json()["id"])


def event_of(db: Engine, order_id: int) -> tuple[int, bool]:
    """Return the order's order.placed event id and whether it is marked published."""
    with db.connect() as conn:
        event_id, published = conn.execute(
            text(
                "SELECT id, published_at IS NOT NULL FROM outbox_events "
                "WHERE topic = 'order.placed' AND (payload->>'order_id')::int = :o"
            ),
            {"o": order_id},
        ).one()
    return int(event_id), bool(published)


def streamed(redis_client: Redis, event_id: int) -> bool:
    entries = redis_client.xrevrange(STREAM, count=1000)
    return any(int(fields["event_id"]) == event_id for _id, fields in entries)


def status_of(stack: Stack, order_id: int) -> str:
    return str(
        requests.get(
            f"{stack.settings.app_url}/orders/{order_id}",
            headers=login_headers(stack.settings.app_url),
            timeout=5,
        ).json()["status"]
    )


def test_a_dual_write_loses_the_event_while_redis_is_down(
    make_app: AppFactory,
    db: Engine,
    redis_client: Redis,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    app = make_app(redis_url=unreachable_redis_url())
    app.extensions["switches"].set("publish_after_commit", True)
    (product,) = new_products(5)

    order_id = checkout(app, new_cart((product, 1)))

    event_id, published = event_of(db, order_id)
    # Marked published in the order's transaction, so the relay never picks it up; the write
    # to Redis after the commit failed, and nothing tries again.
    assert published
    assert not streamed(redis_client, event_id)


def test_the_outbox_keeps_the_event_until_redis_takes_it(
    make_app: AppFactory,
    db: Engine,
    redis_client: Redis,
    stack: Stack,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    app = make_app(redis_url=unreachable_redis_url())
    assert app.extensions["switches"].is_on("publish_after_commit") is False
    (product,) = new_products(5)

    order_id = checkout(app, new_cart((product, 1)))

    event_id, _published = event_of(db, order_id)
    # The stack's relay (its Redis is up) publishes it and enqueues the payment.
    eventually(lambda: event_of(db, order_id)[1], "the relay to publish the event")
    assert streamed(redis_client, event_id)
    eventually(lambda: status_of(stack, order_id) == "paid", "the order to be paid")
