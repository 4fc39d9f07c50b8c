"""Enqueue payment capture as an RQ job with bounded, jittered exponential backoff.

The `retry_without_backoff` bug lives here, next to its fix: the retry policy
is decided when the job is enqueued (RQ stores it with the job), so a change of
the switch applies to payments enqueued from then on. Whatever the policy, a job
out of retries moves its order to `payment_failed` (jobs.on_capture_failure): a
terminal state, not an order waiting for a payment that will never come.
"""

from __future__ import annotations

import random

from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry

from target_app.config import ShopSettings
from target_app.instrumentation import metrics, tracing
from target_app.switches import SwitchBoard

#: The `retry_payments_forever` bug's retries: as good as endless.
FOREVER = 1_000_000
#: The failure callback's one short transaction (RQ's default allows it 60 s).
FAILURE_CALLBACK_TIMEOUT_S = 10

_boards: dict[str, SwitchBoard] = {}


def retry_intervals_s(
    *, retries: int, base_s: float, rng: random.Random | None = None
) -> list[int]:
    """Return the wait before each retry: base·2^n with ±50 % jitter, whole seconds, at least 1."""
    rng = rng or random.Random()
    return [max(1, round(base_s * 2**n * rng.uniform(0.5, 1.5))) for n in range(retries)]


def retry_policy(*, settings: ShopSettings, switches: SwitchBoard) -> Retry | None:
    """Return how a failed payment job is retried (None: it is not)."""
    if switches.is_on("retry_payments_forever"):
        # BUG: every failure is retried, at once, until it passes: one that never will
        # (a decline) comes back to the front of the queue for ever.
        return Retry(max=FOREVER, enqueue_at_front=True)
    if switches.is_on("retry_without_backoff"):
        # BUG: no interval, so RQ puts a failed job straight back in the queue
        # (at the front), again and again: every failure is retried at once.
        return Retry(max=settings.payment_storm_retries, enqueue_at_front=True)
    # FIX: a few retries, each after base·2^n seconds ± 50 %, waiting in the
    # scheduled registry; a job out of retries lands in the failed registry (and its
    # order in payment_failed).
    if not settings.payment_max_retries:
        return None
    return Retry(
        max=settings.payment_max_retries,
        interval=retry_intervals_s(
            retries=settings.payment_max_retries, base_s=settings.payment_retry_base_s
        ),
    )


def _switches(settings: ShopSettings) -> SwitchBoard:
    """Return this process's board for the settings' switch file."""
    key = str(settings.switches_file)
    if key not in _boards:
        _boards[key] = SwitchBoard(settings.switches_file, refresh_s=settings.switch_refresh_s)
    return _boards[key]


def enqueue_capture(
    *,
    order_id: int,
    redis: Redis,
    settings: ShopSettings,
    switches: SwitchBoard | None = None,
    enqueued_by: str = "relay",
) -> str:
    """Enqueue the payment capture of an order and return the job id (RedisError if unreachable)."""
    from target_app.jobs import capture_payment, on_capture_failure

    retry = retry_policy(settings=settings, switches=switches or _switches(settings))
    try:
        job = Queue(settings.payment_queue, connection=redis).enqueue(
            capture_payment,
            order_id,
            retry=retry,
            on_failure=Callback(on_capture_failure, timeout=FAILURE_CALLBACK_TIMEOUT_S),
            job_timeout=settings.payment_job_timeout_s,
            # The worker continues the enqueuer's trace from the job's meta.
            meta=tracing.context_carrier() or None,
        )
    except RedisError:
        metrics.PAYMENT_ENQUEUE_ERRORS.labels(enqueued_by).inc()
        raise
    return str(job.id)
