"""Enqueue payment capture as an RQ job with bounded, jittered exponential backoff."""

from __future__ import annotations

import random

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry

from target_app import metrics
from target_app.config import ShopSettings


def retry_intervals_s(
    *, retries: int, base_s: float, rng: random.Random | None = None
) -> list[int]:
    """Return the wait before each retry: base·2^n with ±50 % jitter, whole seconds, at least 1."""
    rng = rng or random.Random()
    return [max(1, round(base_s * 2**n * rng.uniform(0.5, 1.5))) for n in range(retries)]


def enqueue_capture(*, order_id: int, redis: Redis, settings: ShopSettings) -> str:
    """Enqueue the payment capture of an order and return the job id (RedisError if unreachable)."""
    from target_app.jobs import capture_payment

    retry = (
        Retry(
            max=settings.payment_max_retries,
            interval=retry_intervals_s(
                retries=settings.payment_max_retries, base_s=settings.payment_retry_base_s
            ),
        )
        if settings.payment_max_retries
        else None
    )
    try:
        job = Queue(settings.payment_queue, connection=redis).enqueue(
            capture_payment,
            order_id,
            retry=retry,
            job_timeout=settings.payment_job_timeout_s,
        )
    except RedisError:
        metrics.PAYMENT_ENQUEUE_ERRORS.inc()
        raise
    return str(job.id)
