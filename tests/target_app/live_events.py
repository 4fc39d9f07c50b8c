"""Events in a stream of the test's own, as the relay writes them: what the live stock routes read."""

from __future__ import annotations

import json

from flask import Flask
from redis import Redis


def placed(redis: Redis, app: Flask, *stock: tuple[int, int]) -> str:
    """Add an order.placed event holding (product, stock after) pairs; return its id."""
    payload = {"order_id": 1, "items": [{"product_id": p, "stock_after": s} for p, s in stock]}
    entry = {"event_id": 1, "topic": "order.placed", "payload": json.dumps(payload)}
    return as_text(redis.xadd(app.extensions["settings"].events_stream, entry))


def as_text(entry_id: bytes | str) -> str:
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


def other_event(redis: Redis, app: Flask) -> str:
    entry = {"event_id": 2, "topic": "order.paid", "payload": json.dumps({"order_id": 1})}
    return as_text(redis.xadd(app.extensions["settings"].events_stream, entry))
