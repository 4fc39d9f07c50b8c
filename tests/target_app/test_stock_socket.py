"""The live stock WebSocket (/ws/stock) through the stack's gunicorn: hello, messages, resuming."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from redis import Redis
from simple_websocket import Client

from chaos.stack.manager import Stack
from scenarios._live_clients import DaemonThread
from target_app import live_feed
from target_app.public import switches_file
from target_app.switches import SwitchBoard
from tests.conftest import eventually

pytestmark = pytest.mark.slow
WAIT_S = 10.0


@contextmanager
def bug(stack: Stack, on: bool) -> Iterator[None]:
    """Switch the bug for the block; it starts once a new socket's hello shows the switch."""
    switches = SwitchBoard(switches_file(stack.state))
    switches.set(live_feed.SWITCH, on)

    def hello_shows_it() -> bool:
        with socket(stack) as ws:
            return (receive(ws)["retry_ms"] == 0) == on

    try:
        eventually(hello_shows_it, "the shop's workers to read the switch", timeout_s=WAIT_S)
        yield
    finally:
        switches.set(live_feed.SWITCH, False)


@contextmanager
def socket(stack: Stack, after: str | None = None) -> Iterator[Client]:
    url = stack.settings.app_url.replace("http://", "ws://") + "/ws/stock"
    ws = Client.connect(url + (f"?after={after}" if after else ""), thread_class=DaemonThread)
    try:
        yield ws
    finally:
        ws.close()


def placed(redis: Redis, product_id: int, stock: int) -> str:
    """Add an order.placed event to the stack's events stream, as the relay does."""
    payload = {"order_id": 0, "items": [{"product_id": product_id, "stock_after": stock}]}
    entry = {"event_id": 0, "topic": "order.placed", "payload": json.dumps(payload)}
    entry_id = redis.xadd("shop:events", entry)
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


def receive(ws: Client) -> dict[str, Any]:
    message = ws.receive(timeout=WAIT_S)
    assert message is not None, "no message in time"
    return dict(json.loads(message))


def mine(ws: Client, product_id: int) -> dict[str, Any]:
    """Return the next message about this test's product (other tests' orders pass too)."""
    while True:
        message = receive(ws)
        if any(change["product_id"] == product_id for change in message["changes"]):
            return message


def test_fixed_messages_carry_their_id_and_a_reconnection_resumes_after_it(
    stack: Stack, redis_client: Redis
) -> None:
    product = -random.randint(1000, 10**6)
    with bug(stack, False):
        with socket(stack) as ws:
            hello = receive(ws)
            assert hello["type"] == "hello"
            assert 500 <= hello["retry_ms"] <= 1500
            seen = placed(redis_client, product, 9)
            message = mine(ws, product)
            assert message == {
                "type": "stock",
                "id": seen,
                "changes": [{"id": seen, "product_id": product, "stock": 9}],
            }
        missed = [placed(redis_client, product, 8), placed(redis_client, product, 7)]
        with socket(stack, after=seen) as ws:
            assert receive(ws)["type"] == "hello"
            assert [mine(ws, product)["id"] for _ in missed] == missed


def test_with_the_bug_the_hello_says_come_back_at_once_and_nothing_resumes(
    stack: Stack, redis_client: Redis
) -> None:
    product = -random.randint(1000, 10**6)
    with bug(stack, True):
        seen = placed(redis_client, product, 9)
        placed(redis_client, product, 8)  # published while the client was away: lost
        with socket(stack, after=seen) as ws:
            assert receive(ws) == {"type": "hello", "retry_ms": 0}
            now = placed(redis_client, product, 7)
            message = mine(ws, product)
            assert message == {
                "type": "stock",
                "changes": [{"id": now, "product_id": product, "stock": 7}],
            }
