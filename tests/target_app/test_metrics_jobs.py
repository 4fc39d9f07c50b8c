"""Job retries and permanent failures, counted by a real RQ worker process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rq import Retry
from rq.registry import FailedJobRegistry
from sqlalchemy import Engine

from chaos.stack.manager import Stack
from tests.conftest import eventually, pending_order
from tests.target_app.metrics_text import value
from tests.target_app.worker_process import running_worker

pytestmark = pytest.mark.slow

JOB = "capture_payment"


def test_failed_attempts_are_retries_until_the_last_one_fails_for_good(
    stack: Stack,
    tmp_path: Path,
    db: Engine,
    new_cart: Callable[..., int],
    new_products: Callable[..., list[int]],
) -> None:
    (product,) = new_products(5)
    # Pending orders: a paid one would be answered "already paid" without the provider.
    first, second = (pending_order(db, new_cart((product, 1))) for _ in range(2))
    with running_worker(
        stack,
        tmp_path,
        FAULTYARD_PAYMENT_FAILURE_RATE="1.0",  # the provider always fails
        FAULTYARD_PAYMENT_DELAY_MS="0",
    ) as worker:
        retried = worker.queue.enqueue("target_app.jobs.capture_payment", first, retry=Retry(max=2))
        single = worker.queue.enqueue("target_app.jobs.capture_payment", second)

        def both_failed_for_good() -> str | None:
            text = worker.metrics()
            return (
                text
                if value(text, "shop_jobs_failed_permanently_total", function=JOB) == 2
                else None
            )

        text = eventually(both_failed_for_good, "both jobs to fail for good")
        failed = FailedJobRegistry(queue=worker.queue).get_job_ids()

    assert isinstance(text, str)
    assert value(text, "shop_job_retries_total", function=JOB) == 2
    assert value(text, "shop_jobs_total", function=JOB, outcome="failed") == 4  # 3 + 1 attempts
    assert sorted(failed) == sorted([retried.id, single.id])
    # Attempts each job took once done: 3 (two retries) and 1.
    assert value(text, "shop_job_attempts_count", function=JOB) == 2
    assert value(text, "shop_job_attempts_sum", function=JOB) == 4
    assert value(text, "shop_job_attempts_bucket", function=JOB, le="1.0") == 1
    assert value(text, "shop_job_attempts_bucket", function=JOB, le="2.0") == 1
    assert value(text, "shop_job_attempts_bucket", function=JOB, le="3.0") == 2


def test_a_job_that_succeeds_is_observed_with_its_attempts(stack: Stack, tmp_path: Path) -> None:
    with running_worker(stack, tmp_path, FAULTYARD_PAYMENT_DELAY_MS="0") as worker:
        worker.queue.enqueue("target_app.jobs.capture_payment", 1, retry=Retry(max=2))
        text = eventually(
            lambda: (
                (t := worker.metrics())
                and value(t, "shop_job_attempts_count", function=JOB) == 1
                and t
            ),
            "the job to be observed",
        )
    assert isinstance(text, str)
    assert value(text, "shop_job_attempts_sum", function=JOB) == 1
    assert value(text, "shop_job_retries_total", function=JOB) == 0
