"""A run's business invariants: read for real from the session stack, then judged and recorded.

The reader runs against the session stack's database and exporter, with orders
and outbox events of the test's own (no outbox `order.placed` event: the
stack's relay and workers never touch them), deleted afterwards.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import Engine, delete, insert, text

from chaos.scenarios import invariants
from chaos.scenarios.invariants import RunInvariants
from chaos.scenarios.journal import InvariantCount, Journal
from chaos.scenarios.panel import LineView
from chaos.scenarios.phases import recovery
from chaos.scenarios.phases.context import RunContext
from chaos.scenarios.report import invariants_markdown
from chaos.scenarios.runner import RunOptions, _verdict
from chaos.stack.manager import Stack
from target_app.models import Order, OutboxEvent

NAMES = [
    "oversold_units",
    "duplicate_orders",
    "lost_events",
    "duplicate_payments",
    "orders_stuck_unpaid",
]


def by_name(counts: list[InvariantCount]) -> dict[str, InvariantCount]:
    return {c.name: c for c in counts}


@pytest.fixture
def rows(
    db: Engine, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> Iterator[Callable[..., int]]:
    """Insert orders (`order`) and outbox events (`event`) of the test's own; delete them after."""
    orders: list[int] = []
    events: list[int] = []
    (product,) = new_products(1000)

    def make(kind: str, **values: Any) -> int:
        with db.begin() as conn:
            if kind == "event":
                events.append(
                    conn.execute(insert(OutboxEvent).values(**values).returning(OutboxEvent.id))
                    .scalar_one()
                )  # fmt: skip
                return events[-1]
            age_s = values.pop("age_s", 0)
            created = conn.execute(text("SELECT LOCALTIMESTAMP")).scalar_one()
            order = {"user_id": 1, "cart_id": new_cart((product, 1)), "total_cents": 1000}
            order_id = conn.execute(
                insert(Order)
                .values(**order, **values, created_at=created - timedelta(seconds=age_s))
                .returning(Order.id)
            ).scalar_one()
        orders.append(int(order_id))
        return orders[-1]

    yield make
    with db.begin() as conn:
        conn.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(events)))
        conn.execute(delete(Order).where(Order.id.in_(orders)))


@pytest.fixture
def reader(stack: Stack) -> RunInvariants:
    """The invariants of a run whose preflight ends now."""
    run = RunInvariants(stack.settings)
    run.start()
    return run


def test_a_clean_run_breaks_nothing_and_a_lost_event_counts_once_judged(
    reader: RunInvariants, rows: Callable[..., int]
) -> None:
    reader.mark_before()
    assert {c.name: c.count for c in reader.read(wait_for_payments=True)} == dict.fromkeys(NAMES, 0)
    # An event marked published that never reached the stream, right before the last read:
    # the read waits until the exporter has judged it.
    now = datetime.now(UTC).replace(tzinfo=None)
    rows("event", topic="test.lost", payload={}, published_at=now)
    counts = by_name(reader.read(wait_for_payments=True))
    assert counts["lost_events"].count == 1, counts["lost_events"]
    assert [counts[n].count for n in NAMES if n != "lost_events"] == [0, 0, 0, 0]


def test_a_payment_taken_twice_and_an_order_stuck_unpaid_are_counted(
    reader: RunInvariants, rows: Callable[..., int]
) -> None:
    assert reader.run_start is not None
    # The run began 2 minutes ago (database time): its orders can be older than the SLO.
    reader.run_start = replace(
        reader.run_start, db_time=reader.run_start.db_time - timedelta(minutes=2)
    )
    for _ in range(2):
        paid_twice = rows("order", status="paid")
        for _ in range(2):
            rows("event", topic="order.paid", payload={"order_id": paid_twice})
    rows("event", topic="order.paid", payload={"order_id": rows("order", status="paid")})
    rows("order", status="pending_payment", age_s=90)  # stuck: past the 60 s SLO
    rows("order", status="payment_failed", age_s=90)  # failed for good: not stuck
    rows("order", status="pending_payment")  # young: not judged yet
    rows("order", status="pending_payment", age_s=300)  # placed before the run: not its own
    counts = by_name(reader.read(wait_for_payments=False))  # bug mode: no wait
    assert counts["duplicate_payments"].count == 2
    stuck = counts["orders_stuck_unpaid"]
    assert stuck.count == 1
    assert stuck.detail == (
        "6 orders placed: 3 paid, 1 payment failed, 2 pending "
        "(1 of them younger than the SLO, not judged: not waited for)"
    )
    # Never read before injection: the exporter's gauges are not judged, and say why.
    assert counts["lost_events"].count is None
    assert counts["lost_events"].detail == "not read before injection"


def test_fixed_mode_waits_for_each_young_order_until_paid_or_past_its_slo(
    reader: RunInvariants,
    rows: Callable[..., int],
    db: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(invariants, "PAYMENT_SLO_S", 3.0)
    paid_soon = rows("order", status="pending_payment")
    rows("order", status="pending_payment")  # never paid

    def pay() -> None:
        with db.begin() as conn:
            conn.execute(
                text("UPDATE orders SET status = 'paid' WHERE id = :id"), {"id": paid_soon}
            )

    threading.Timer(1.0, pay).start()
    started = time.monotonic()
    stuck = by_name(reader.read(wait_for_payments=True))["orders_stuck_unpaid"]
    assert time.monotonic() - started >= 2.5  # waited for the unpaid one's SLO to pass
    assert stuck.count == 1
    assert stuck.detail == "2 orders placed: 1 paid, 0 payment failed, 1 pending"


class CountsRead:
    """A reader of invariants that answers fixed counts, and remembers whether it was to wait."""

    def __init__(self, counts: list[InvariantCount]) -> None:
        self.counts = counts
        self.waited: bool | None = None

    def read(self, *, wait_for_payments: bool) -> list[InvariantCount]:
        self.waited = wait_for_payments
        return self.counts


@pytest.mark.parametrize("fixed", [True, False], ids=["fixed", "bug"])
def test_broken_invariants_fail_a_fixed_run_and_are_reported_in_bug_mode(fixed: bool) -> None:
    journal = Journal(scenario="s", mode="fixed" if fixed else "default", options={}, definition={})
    counts = [
        InvariantCount("lost_events", 0, "events lost", "3 before, 3 after"),
        InvariantCount("duplicate_payments", 2, "orders paid twice"),
        InvariantCount("oversold_units", None, "units oversold", "the exporter did not answer"),
    ]
    ctx = RunContext(
        scenario=None,  # type: ignore[arg-type]
        stack=None,  # type: ignore[arg-type]
        options=RunOptions(fixed=fixed),
        journal=journal,
        view=LineView(Console(file=io.StringIO()), journal),
        injector=None,  # type: ignore[arg-type]
    )
    reader = CountsRead(counts)
    ctx.invariants = reader  # type: ignore[assignment]
    record = journal.begin("recovery")
    recovery.read_invariants(ctx, record)
    _verdict(ctx, error=None)

    assert reader.waited is fixed
    assert journal.invariants == counts
    assert record.output["notes"] == [
        "invariants: lost_events 0, duplicate_payments 2, oversold_units ?"
    ]
    if fixed:
        assert journal.deviations == [
            "invariant duplicate_payments broken: 2 (orders paid twice)",
            "invariant oversold_units could not be read: the exporter did not answer",
        ]
        assert record.status == "failed" and journal.exit_code == 1
    else:
        assert journal.deviations == [] and journal.exit_code == 0
    section = "\n".join(invariants_markdown(journal))
    assert "| duplicate_payments | 2 | orders paid twice |  |" in section
    assert "| oversold_units | not read | units oversold | the exporter did not answer |" in section
    assert ("each must be 0" in section) is fixed
