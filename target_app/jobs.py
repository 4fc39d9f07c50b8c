"""RQ jobs: plain functions. The payment provider is simulated with a delay and a failure rate."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import ParamSpec, TypeVar

from redis import Redis
from rq.job import Job, get_current_job
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from target_app.config import ShopSettings, load_settings
from target_app.db import make_engine
from target_app.instrumentation import metrics
from target_app.models import Order, OutboxEvent
from target_app.runtime_settings import RuntimeSettings
from target_app.switches import SwitchBoard

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_engine: Engine | None = None
_switches: SwitchBoard | None = None
_runtime_boards: dict[Path, RuntimeSettings] = {}


class PaymentProviderError(Exception):
    """The simulated payment provider declined or failed; RQ retries the job."""


def _worker_engine(settings: ShopSettings) -> Engine:
    global _engine
    if _engine is None:
        _engine = make_engine(settings, application_name="faultyard-worker")
    return _engine


def dispose_engine() -> None:
    """Close this process's job engine and its pooled connections."""
    global _engine
    if _engine is not None:
        _engine.dispose()
        _engine = None


def instrumented(func: Callable[P, R]) -> Callable[P, R]:
    """Count runs by outcome and time them."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = func(*args, **kwargs)
            outcome = "succeeded"
            return result
        finally:
            metrics.JOBS.labels(func.__name__, outcome).inc()
            metrics.JOB_DURATION.labels(func.__name__).observe(time.perf_counter() - started)

    return wrapper


class PaymentDeclined(PaymentProviderError):
    """The provider declined the capture for good: no retry can pass (a poison message)."""


def _call_provider(order_id: int, total_cents: int, settings: ShopSettings) -> None:
    """Ask the simulated provider to capture an amount; raise if it fails or declines."""
    # Delay, failure rate and limit may change at runtime (`faultyard setting ...`).
    time.sleep(settings.payment_delay_ms / 1000)
    limit = settings.payment_decline_above_cents
    if limit and total_cents > limit:
        raise PaymentDeclined(
            f"payment declined for order {order_id}: {total_cents} cents is over the card's limit"
        )
    if random.random() < settings.payment_failure_rate:
        raise PaymentProviderError(f"payment provider failed for order {order_id}")


def _after_decline(order_id: int) -> None:
    """Decide what a decline does to the running job: final (the fix), or retried (the bug).

    The fix's `retries_left = 0` is saved with the job: one requeued from the failed
    registry by hand gets one attempt, with no retries even for a transient failure.
    """
    job = get_current_job()
    if job is not None and not switches().is_on("retry_payments_forever"):
        # FIX: no retry can pass, so none is tried: RQ moves the job to the failed
        # registry (the dead letters) and on_capture_failure fails its order.
        job.retries_left = 0
    retried = job is not None and job.should_retry
    metrics.PAYMENTS_DECLINED.labels("retried" if retried else "gave_up").inc()
    log.warning(
        "payment declined",
        extra={"order_id": order_id, "job_id": job.id if job else None, "retried": retried},
    )


@instrumented
def capture_payment(order_id: int) -> str:
    """Capture an order's payment at the simulated provider; idempotent."""
    settings = current_settings()
    with Session(_worker_engine(settings)) as session:
        found = session.execute(
            select(Order.total_cents, Order.status).where(Order.id == order_id)
        ).one_or_none()
    if found is None:
        log.warning("payment for a missing order", extra={"order_id": order_id})
        return "missing"
    total_cents, status = found
    if status == "paid":
        return "already paid"  # a capture delivered twice: the provider is not asked again
    try:
        _call_provider(order_id, total_cents, settings)
    except PaymentDeclined:
        _after_decline(order_id)
        raise
    with Session(_worker_engine(settings)) as session, session.begin():
        order = session.get(Order, order_id, with_for_update=True)
        if order is None:
            log.warning("payment for a missing order", extra={"order_id": order_id})
            return "missing"
        if order.status == "paid":
            return "already paid"
        order.status = "paid"
        order.paid_at = datetime.now(UTC).replace(tzinfo=None)
        session.add(
            OutboxEvent(
                topic="order.paid",
                payload={"order_id": order.id, "total_cents": order.total_cents},
            )
        )
    log.info("payment captured", extra={"order_id": order_id})
    return "paid"


def fail_payment(order_id: int, reason: str) -> str:
    """Move a pending order to `payment_failed`, with its `order.payment_failed` event; idempotent.

    Only an order still pending payment moves: a paid order stays paid, a failed one
    stays failed (no second event). Returns the order's status afterwards, or "missing".
    A later capture (a job replayed from the failed registry) may still pay it.
    """
    with Session(_worker_engine(current_settings())) as session, session.begin():
        order = session.get(Order, order_id, with_for_update=True)
        if order is None:
            return "missing"
        if order.status != "pending_payment":
            return order.status
        order.status = "payment_failed"
        session.add(
            OutboxEvent(
                topic="order.payment_failed",
                payload={"order_id": order.id, "total_cents": order.total_cents, "reason": reason},
            )
        )
    log.warning("payment failed for good", extra={"order_id": order_id, "reason": reason})
    return "payment_failed"


def on_capture_failure(
    job: Job,
    connection: Redis,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """RQ's on_failure callback of capture_payment, run after every failed attempt.

    RQ decides right after it whether to retry (retries left); after the last
    attempt the job only lands in the failed registry, so the order is moved to
    its terminal state here, or it would wait for its payment forever.
    """
    if job.should_retry:
        return  # another attempt follows
    (order_id,) = job.args
    reason = f"{exc_type.__name__ if exc_type else 'failure'}: {exc_value}"
    try:
        fail_payment(int(order_id), reason[:200])
    except SQLAlchemyError as exc:
        # PostgreSQL is unreachable: the order stays pending (the job is in the failed registry).
        log.error(
            "could not mark the payment failed", extra={"order_id": order_id, "error": str(exc)}
        )


def switches() -> SwitchBoard:
    """Return this worker process's switch board, shared by every job it runs."""
    global _switches
    if _switches is None:
        settings = load_settings()
        _switches = SwitchBoard(settings.switches_file, refresh_s=settings.switch_refresh_s)
    return _switches


def current_settings() -> ShopSettings:
    """Return this process's settings with the runtime overrides of its state folder applied."""
    settings = load_settings()
    board = _runtime_boards.get(settings.runtime_settings_file)
    if board is None:
        board = RuntimeSettings(settings.runtime_settings_file, refresh_s=settings.switch_refresh_s)
        _runtime_boards[settings.runtime_settings_file] = board
    return board.apply(settings)


def switch_states() -> dict[str, bool]:
    """Report the bug switches as this worker process's board sees them (a diagnostic job)."""
    return switches().states()
