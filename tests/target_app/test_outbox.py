"""The outbox relay: events reach the Redis stream in order, and an outage loses none."""

from __future__ import annotations

import json

import pytest
from prometheus_client import REGISTRY
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.orm import Session

from chaos.stack.manager import Stack
from target_app.config import load_settings
from target_app.models import OutboxEvent
from target_app.outbox import measure_backlog, relay_once
from tests.conftest import free_port


def test_relay_publishes_in_order_and_survives_a_redis_outage(
    stack: Stack, scratch_database: str, redis_client: Redis
) -> None:
    name = f"test:{scratch_database[-12:]}"
    settings = load_settings(
        {
            "database_url": scratch_database,
            "events_stream": name,
            "payment_queue": name,
            "relay_batch_size": 2,
        }
    )
    engine = create_engine(scratch_database)
    with engine.begin() as conn:
        conn.execute(
            insert(OutboxEvent),
            [
                {
                    "topic": "order.placed",
                    "payload": {"order_id": n, "items": [{"product_id": n, "stock_after": 9}]},
                }
                for n in range(5)
            ],
        )

    down = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    with Session(engine) as session, pytest.raises(RedisError):
        relay_once(session, down, settings)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).where(OutboxEvent.published_at.is_(None))) == 5

    up = Redis.from_url(stack.settings.redis_url)
    with Session(engine) as session:
        assert [relay_once(session, up, settings) for _ in range(4)] == [2, 2, 1, 0]
    entries = redis_client.xrange(settings.events_stream)
    assert [json.loads(fields["payload"])["order_id"] for _, fields in entries] == [0, 1, 2, 3, 4]
    assert {fields["topic"] for _, fields in entries} == {"order.placed"}
    # Each order.placed event enqueued its payment capture, once.
    queue = Queue(name, connection=up)
    assert sorted(job.args[0] for job in queue.get_jobs()) == [0, 1, 2, 3, 4]
    queue.empty()
    engine.dispose()


def test_backlog_counts_unpublished_events_and_the_oldest_age(scratch_database: str) -> None:
    engine = create_engine(scratch_database)
    try:
        with Session(engine) as session:
            assert measure_backlog(session) == (0, 0.0)
        ninety_seconds_ago = func.now() - text("interval '90 seconds'")
        with engine.begin() as conn:
            conn.execute(
                insert(OutboxEvent).values(topic="a", payload={}, created_at=ninety_seconds_ago)
            )
            conn.execute(insert(OutboxEvent).values(topic="b", payload={}))
            conn.execute(insert(OutboxEvent).values(topic="c", payload={}, published_at=func.now()))
        with Session(engine) as session:
            count, age = measure_backlog(session)
    finally:
        engine.dispose()
    assert count == 2
    assert age >= 90
    assert REGISTRY.get_sample_value("shop_outbox_backlog_events") == 2  # what /metrics reports
    assert REGISTRY.get_sample_value("shop_outbox_oldest_unpublished_age_seconds") >= 90
