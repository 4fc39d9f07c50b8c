"""`retry_without_backoff`: failed payments retried at once, many times, or later with backoff.

A real RQ worker process runs the jobs, with the payment provider failing every
capture through the runtime setting `payment_failure_rate` (the worker reads it
from the state folder's settings file, as every process of the stack does).
Whatever the policy, the last failed attempt moves the order to `payment_failed`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.scheduler import RQScheduler
from sqlalchemy import Engine, select

from chaos.stack.manager import Stack
from target_app.config import ShopSettings, load_settings
from target_app.models import Order, OutboxEvent
from target_app.runtime_settings import RuntimeSettings
from target_app.services.payments import enqueue_capture, retry_policy
from target_app.switches import SwitchBoard
from tests.conftest import eventually
from tests.target_app.metrics_text import value
from tests.target_app.worker_process import WorkerProcess, running_worker

JOB = "capture_payment"


def shop_settings(stack: Stack, state: Path, queue: str, **overrides: object) -> ShopSettings:
    return load_settings(
        {
            "redis_url": stack.settings.redis_url,
            "database_url": stack.settings.database_url,
            "state_dir": state,
            "payment_queue": queue,
            **overrides,
        }
    )


def test_the_switch_chooses_the_retry_policy(tmp_path: Path) -> None:
    settings = load_settings({"state_dir": tmp_path})
    board = SwitchBoard(settings.switches_file, refresh_s=0)

    fixed = retry_policy(settings=settings, switches=board)
    assert fixed is not None
    assert fixed.max == settings.payment_max_retries
    assert len(fixed.intervals) == settings.payment_max_retries and min(fixed.intervals) >= 1

    board.set("retry_without_backoff", True)
    storm = retry_policy(settings=settings, switches=board)
    assert storm is not None
    assert storm.max == settings.payment_storm_retries > settings.payment_max_retries
    assert storm.intervals == [0] and storm.enqueue_at_front


def payment_state(db: Engine, order_id: int) -> tuple[str, list[dict[str, Any]]]:
    """Return an order's status and the payloads of its `order.payment_failed` events."""
    with db.connect() as conn:
        status = conn.scalar(select(Order.status).where(Order.id == order_id))
        events = conn.scalars(
            select(OutboxEvent.payload).where(
                OutboxEvent.topic == "order.payment_failed",
                OutboxEvent.payload["order_id"].as_integer() == order_id,
            )
        ).all()
    return str(status), list(events)


@contextmanager
def failing_provider(stack: Stack, state: Path) -> Iterator[WorkerProcess]:
    """A worker whose payment provider fails every capture (set at runtime, not by env)."""
    RuntimeSettings(ShopSettings(state_dir=state).runtime_settings_file).set(
        "payment_failure_rate", 1.0
    )
    with running_worker(stack, state, FAULTYARD_PAYMENT_DELAY_MS="0") as worker:
        yield worker


@pytest.mark.slow
def test_without_backoff_every_failure_is_retried_at_once(
    stack: Stack, tmp_path: Path, db: Engine, unpaid_order: Callable[[], int]
) -> None:
    order_id = unpaid_order()
    with failing_provider(stack, tmp_path) as worker:
        settings = shop_settings(stack, tmp_path, worker.queue.name)
        SwitchBoard(settings.switches_file).set("retry_without_backoff", True)
        job_id = enqueue_capture(
            order_id=order_id, redis=worker.queue.connection, settings=settings
        )

        # No scheduler runs for this queue: a retry that waited would never run again.
        failed = FailedJobRegistry(queue=worker.queue)
        eventually(lambda: job_id in failed.get_job_ids(), "the job to run out of retries")
        text = worker.metrics()
        assert ScheduledJobRegistry(queue=worker.queue).count == 0

    retries = settings.payment_storm_retries
    assert value(text, "shop_jobs_total", function=JOB, outcome="failed") == retries + 1
    assert value(text, "shop_job_retries_total", function=JOB) == retries
    assert value(text, "shop_jobs_failed_permanently_total", function=JOB) == 1
    # More attempts than any bounded policy allows: what flaky-jobs probes.
    assert value(text, "shop_job_attempts_sum", function=JOB) == retries + 1
    # Out of its (many) retries at last: the order's payment failed for good.
    status, events = payment_state(db, order_id)
    assert status == "payment_failed" and len(events) == 1, (status, events)


@pytest.mark.slow
def test_with_backoff_a_retry_waits_then_the_job_lands_in_the_failed_registry(
    stack: Stack, tmp_path: Path, db: Engine, unpaid_order: Callable[[], int]
) -> None:
    """And its order in payment_failed, after the last attempt only (RQ calls the job's
    on_failure callback after every failed attempt)."""
    order_id, never_retried = unpaid_order(), unpaid_order()
    with failing_provider(stack, tmp_path) as worker:
        settings = shop_settings(
            stack, tmp_path, worker.queue.name, payment_max_retries=2, payment_retry_base_s=1.0
        )
        redis: Redis = worker.queue.connection
        job_id = enqueue_capture(order_id=order_id, redis=redis, settings=settings)
        scheduled = ScheduledJobRegistry(queue=worker.queue)

        # First attempt failed: the job waits in the scheduled registry, not in the queue.
        eventually(lambda: job_id in scheduled.get_job_ids(), "the first retry to be scheduled")
        job = Job.fetch(job_id, connection=redis)
        assert job.get_status() == JobStatus.SCHEDULED
        assert job.retries_left == 1
        assert worker.queue.count == 0
        assert min(job.retry_intervals) >= 1  # seconds; RQ schedules at whole seconds
        # Nothing runs it again before the scheduler moves it back: one attempt so far.
        assert value(worker.metrics(), "shop_jobs_total", function=JOB, outcome="failed") == 1
        assert payment_state(db, order_id) == ("pending_payment", [])  # a retry follows

        # RQ's scheduler enqueues due retries; the last failure moves the job to the failed
        # registry. One of this test's own, on its queue only (the stack's keeps its name).
        scheduler = RQScheduler([worker.queue], connection=redis, name=f"{worker.name}-scheduler")
        scheduler.acquire_locks()
        failed = FailedJobRegistry(queue=worker.queue)

        def failed_for_good() -> bool:
            scheduler.enqueue_scheduled_jobs()
            return job_id in failed.get_job_ids()

        try:
            eventually(failed_for_good, "the job to fail for good", 30)
        finally:
            scheduler.release_locks()
        status, events = payment_state(db, order_id)
        assert status == "payment_failed", status
        assert [e["reason"].split(":")[0] for e in events] == ["PaymentProviderError"]

        # Without retries (payment_max_retries 0), the first failed attempt is the last.
        no_retry = shop_settings(stack, tmp_path, worker.queue.name, payment_max_retries=0)
        enqueue_capture(order_id=never_retried, redis=redis, settings=no_retry)
        eventually(
            lambda: payment_state(db, never_retried)[0] == "payment_failed",
            "the order without retries to fail",
        )
        text = worker.metrics()

    assert value(text, "shop_jobs_total", function=JOB, outcome="failed") == 3 + 1
    assert value(text, "shop_job_retries_total", function=JOB) == 2
    assert value(text, "shop_jobs_failed_permanently_total", function=JOB) == 1 + 1
    assert value(text, "shop_job_attempts_sum", function=JOB) == 3 + 1
    assert len(payment_state(db, never_retried)[1]) == 1
