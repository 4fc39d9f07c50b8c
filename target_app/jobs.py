"""RQ jobs: plain functions. The payment provider is simulated with a delay and a failure rate."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine
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


@instrumented
def capture_payment(order_id: int) -> str:
    """Capture an order's payment at the simulated provider; idempotent."""
    # Delay and failure rate may change at runtime (`faultyard setting ...`).
    settings = current_settings()
    time.sleep(settings.payment_delay_ms / 1000)
    if random.random() < settings.payment_failure_rate:
        raise PaymentProviderError(f"payment provider failed for order {order_id}")
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
