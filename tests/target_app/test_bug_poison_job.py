"""`retry_payments_forever`: a capture the provider declines for good, retried for ever or not at all.

A real RQ worker process runs the jobs; the provider declines any capture over
`payment_decline_above_cents` (a runtime setting, read from the state folder).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import Engine, update

from chaos.stack.manager import Stack
from target_app.config import ShopSettings, load_settings
from target_app.models import Order
from target_app.runtime_settings import RuntimeSettings
from target_app.services.payments import FOREVER, enqueue_capture, retry_policy
from target_app.switches import SwitchBoard
from tests.conftest import eventually
from tests.target_app.metrics_text import value
from tests.target_app.test_bug_retry_storm import payment_state, shop_settings
from tests.target_app.worker_process import running_worker

JOB = "capture_payment"
#: The orders of `unpaid_order` are 1000 cents: over this limit, declined.
LIMIT_CENTS = 500


def test_the_switch_retries_any_failure_for_ever(tmp_path: Path) -> None:
    settings = load_settings({"state_dir": tmp_path})
    board = SwitchBoard(settings.switches_file, refresh_s=0)
    board.set("retry_payments_forever", True)
    board.set("retry_without_backoff", True)  # the stronger bug wins
    forever = retry_policy(settings=settings, switches=board)
    assert forever is not None
    assert forever.max == FOREVER and forever.intervals == [0] and forever.enqueue_at_front


def declining_provider(state: Path) -> None:
    """Make the provider decline the test orders (set at runtime, as the scenario does)."""
    RuntimeSettings(ShopSettings(state_dir=state).runtime_settings_file).set(
        "payment_decline_above_cents", LIMIT_CENTS
    )


@pytest.mark.slow
def test_the_bug_retries_a_decline_again_and_again(
    stack: Stack, tmp_path: Path, db: Engine, unpaid_order: Callable[[], int]
) -> None:
    order_id = unpaid_order()
    declining_provider(tmp_path)
    with running_worker(stack, tmp_path, FAULTYARD_PAYMENT_DELAY_MS="0") as worker:
        settings = shop_settings(stack, tmp_path, worker.queue.name)
        board = SwitchBoard(settings.switches_file, refresh_s=0)
        board.set("retry_payments_forever", True)
        job_id = enqueue_capture(
            order_id=order_id, redis=worker.queue.connection, settings=settings
        )

        def retried() -> float:
            return value(worker.metrics(), "shop_payments_declined_total", then="retried")

        eventually(lambda: retried() >= 20, "the same decline to come back 20 times")
        assert payment_state(db, order_id) == ("pending_payment", [])
        job = Job.fetch(job_id, connection=worker.queue.connection)
        assert job.retries_left is not None and job.retries_left > FOREVER - 1000

        # The fix deployed (the switch off): the job's next attempt gives up for good.
        board.set("retry_payments_forever", False)
        failed = FailedJobRegistry(queue=worker.queue)
        eventually(lambda: job_id in failed.get_job_ids(), "the job to be dead-lettered")
        eventually(lambda: payment_state(db, order_id)[0] == "payment_failed", "order failed")
        text = worker.metrics()
    assert value(text, "shop_payments_declined_total", then="gave_up") == 1
    assert worker.log.read_text().count('"message":"payment declined"') >= 20


@pytest.mark.slow
def test_the_fix_fails_a_decline_at_once_and_pays_the_rest(
    stack: Stack, tmp_path: Path, db: Engine, unpaid_order: Callable[[], int]
) -> None:
    poison, fine = unpaid_order(), unpaid_order()
    with db.begin() as conn:
        conn.execute(update(Order).where(Order.id == fine).values(total_cents=LIMIT_CENTS))
    declining_provider(tmp_path)
    with running_worker(stack, tmp_path, FAULTYARD_PAYMENT_DELAY_MS="0") as worker:
        redis = worker.queue.connection
        settings = shop_settings(stack, tmp_path, worker.queue.name)
        job_id = enqueue_capture(order_id=poison, redis=redis, settings=settings)
        eventually(lambda: payment_state(db, poison)[0] == "payment_failed", "the decline")
        assert job_id in FailedJobRegistry(queue=worker.queue).get_job_ids()

        # An order under the limit is paid: the provider only declines what is over it.
        enqueue_capture(order_id=fine, redis=redis, settings=settings)
        eventually(lambda: payment_state(db, fine)[0] == "paid", "the payment under the limit")
        text = worker.metrics()

    status, events = payment_state(db, poison)
    assert status == "payment_failed"
    assert [e["reason"].split(":")[0] for e in events] == ["PaymentDeclined"]
    assert value(text, "shop_payments_declined_total", then="gave_up") == 1
    assert value(text, "shop_payments_declined_total", then="retried") == 0
    assert value(text, "shop_job_retries_total", function=JOB) == 0
