"""The outbox relay: publishes events written in shop transactions to a Redis stream.

Events are marked published only after Redis accepted them, so an outage
delays events and never loses them. `python -m target_app.relay` runs it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from opentelemetry.trace import SpanKind
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from target_app.config import RELAY_HEARTBEAT_KEY, ShopSettings
from target_app.db import make_engine
from target_app.instrumentation import metrics, tracing
from target_app.models import OutboxEvent
from target_app.redis_client import make_redis
from target_app.services.payments import enqueue_capture

log = logging.getLogger("target_app.relay")
checkout_log = logging.getLogger("target_app.checkout")


def write_to_stream(redis: Redis, events: Sequence[OutboxEvent], settings: ShopSettings) -> None:
    """Add events to the stream, which the live stock updates read too (RedisError if down)."""
    pipe = redis.pipeline(transaction=False)
    for event in events:
        pipe.xadd(
            settings.events_stream,
            {"event_id": event.id, "topic": event.topic, "payload": json.dumps(event.payload)},
            maxlen=settings.events_stream_maxlen,
            approximate=True,
        )
    pipe.execute()


def publish_after_commit(event: OutboxEvent, redis: Redis, settings: ShopSettings) -> bool:
    """Enqueue an order's payment and stream its event straight from the checkout (the bug).

    The `publish_after_commit` bug: checkout marks its event published in its own
    transaction, so the relay skips it, and publishes it here after the commit: a dual
    write. When Redis is unreachable, the order is committed, and its payment and
    event are lost: nothing will try again. Return whether both writes happened.
    """
    try:
        enqueue_capture(
            order_id=event.payload["order_id"],
            redis=redis,
            settings=settings,
            enqueued_by="checkout",
        )
        write_to_stream(redis, [event], settings)
    except RedisError as exc:
        checkout_log.error(
            "order.placed not published after commit",
            extra={"event_id": event.id, "order_id": event.payload["order_id"], "error": str(exc)},
        )
        return False
    return True


def relay_once(session: Session, redis: Redis, settings: ShopSettings) -> int:
    """Publish one batch of unpublished events in id order; return how many."""
    with session.begin():
        events = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(settings.relay_batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        if not events:
            return 0
        write_to_stream(redis, events, settings)
        for event in events:
            if event.topic == "order.placed":
                # Through the outbox, a Redis outage delays a payment and never
                # loses it. Delivery is at least once: capture is idempotent.
                # The span continues the checkout's trace, and the job continues it.
                with tracing.continued_span(
                    "relay order.placed",
                    event.payload,
                    kind=SpanKind.PRODUCER,
                    attributes={"outbox.event_id": event.id, "outbox.topic": event.topic},
                ):
                    enqueue_capture(
                        order_id=event.payload["order_id"], redis=redis, settings=settings
                    )
        now = datetime.now(UTC).replace(tzinfo=None)
        for event in events:
            event.published_at = now
    metrics.OUTBOX_RELAYED.inc(len(events))
    return len(events)


def measure_backlog(session: Session) -> tuple[int, float]:
    """Count unpublished events and the oldest one's age in seconds; publish both as gauges."""
    count, age = session.execute(
        select(
            func.count(),
            func.coalesce(func.extract("epoch", func.now() - func.min(OutboxEvent.created_at)), 0),
        ).where(OutboxEvent.published_at.is_(None))
    ).one()
    metrics.OUTBOX_BACKLOG.set(count)
    metrics.OUTBOX_OLDEST_AGE.set(float(age))
    return int(count), float(age)


def _failure_reason(exc: Exception) -> str:
    if isinstance(exc, RedisError):
        return "redis"
    if isinstance(exc, SQLAlchemyError):
        return "postgres"
    return "error"


def run(settings: ShopSettings, stop: threading.Event) -> None:
    """Relay until `stop` is set, backing off while PostgreSQL or Redis is unreachable."""
    engine = make_engine(settings, application_name="faultyard-relay")
    redis = make_redis(settings)
    backoff_s = settings.relay_poll_interval_s
    log.info("relay started", extra={"stream": settings.events_stream})
    while not stop.is_set():
        try:
            with Session(engine) as session:
                published = relay_once(session, redis, settings)
            redis.set(RELAY_HEARTBEAT_KEY, time.time(), ex=60)
            backoff_s = settings.relay_poll_interval_s
        except Exception as exc:
            # Whatever failed, the events stay unpublished and the next pass retries them.
            reason = _failure_reason(exc)
            metrics.OUTBOX_RELAY_ERRORS.labels(reason).inc()
            log.error(
                "relay pass failed",
                extra={"reason": reason, "error": str(exc)},
                exc_info=reason == "error",
            )
            backoff_s = min(backoff_s * 2, 5.0)
            published = 0
        try:
            # Measured even when Redis is down: a growing backlog is the symptom.
            with Session(engine) as session:
                measure_backlog(session)
        except SQLAlchemyError:
            pass  # PostgreSQL is down: the failed pass above already counted it
        if published < settings.relay_batch_size:
            stop.wait(backoff_s)
    engine.dispose()
    log.info("relay stopped")
