"""The run's business invariants: what no fault may break once the fix is on.

Five counts over one run, recorded in the journal at the end of recovery. With
--fixed, a count above zero, or one that could not be read, fails the run as a
broken SLO does (chaos.scenarios.verdict.broken_invariants); with the bug on they
are reported, not judged: the bugs break them on purpose.

- oversold_units, duplicate_orders, lost_events: how much the exporter's gauges
  (chaos/exporter/invariants.py) grew over the run. They count over the shop's
  whole history, which earlier runs leave above zero, so they are read twice:
  once the steady state holds, just before injection, and after recovery. Both
  readings come from the exporter's /metrics, the last one once the exporter
  has judged what recovery left (chaos.scenarios.exporter_reading). duplicate_orders counts among the latest 10 000 orders, so
  a duplicate leaving that window lowers it: a gauge that went down grew by 0.
- duplicate_payments: orders of the run with more than one `order.paid` event.
- orders_stuck_unpaid: orders of the run still `pending_payment` PAYMENT_SLO_S
  after they were placed (a payment that failed for good is `payment_failed`, a
  terminal state, not stuck). Orders younger than that are not judged yet: in
  fixed mode the reader waits until each is paid, has failed, or is past its SLO;
  in bug mode it does not wait, and says how many were still waiting.

"Of the run": placed after its preflight ended, in database time (the shop
stores UTC; this reader's session is UTC too), found by id first (an order
placed later has a greater id) so that no query scans the whole history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from chaos.scenarios.exporter_reading import EXPORTER_WAIT_S, ExporterScrape, reading_after
from chaos.scenarios.journal import InvariantCount
from chaos.settings import StackSettings, libpq_url

#: How long an order may wait for its payment. The fixed policy takes at most 4 attempts
#: (50 ms each at the simulated provider) with retries 1, 2 and 4 s apart ±50 % (10.5 s at
#: worst), each enqueued by the scheduler within a second: about 15 s. A fixed redis-outage
#: run delays payments for the whole outage (30 s by default) plus the relay's backoff.
PAYMENT_SLO_S = 60.0
ORDERS_POLL_S = 0.5
QUERY_TIMEOUT_S = 5.0

#: The invariants the exporter counts: name -> (its gauge, what one unit of it is).
GAUGES = {
    "oversold_units": ("shop_invariant_oversold_units", "units sold beyond the stock"),
    "duplicate_orders": (
        "shop_invariant_duplicate_orders",
        "orders placed twice (one cart or one Idempotency-Key)",
    ),
    "lost_events": (
        "shop_invariant_lost_events",
        "events marked published that the stream never held",
    ),
}
DUPLICATE_PAYMENTS = ("duplicate_payments", "orders of the run paid more than once")
STUCK_ORDERS = (
    "orders_stuck_unpaid",
    f"orders of the run still pending payment {PAYMENT_SLO_S:g}s after they were placed",
)

RUN_START_SQL = """
SELECT LOCALTIMESTAMP, (SELECT coalesce(max(id), 0) FROM orders),
       (SELECT coalesce(max(id), 0) FROM outbox_events)
"""
DUPLICATE_PAYMENTS_SQL = """
SELECT count(*) FROM (
    SELECT (payload ->> 'order_id')::bigint AS order_id FROM outbox_events
    WHERE id > %(events_above)s AND topic = 'order.paid'
    GROUP BY 1 HAVING count(*) > 1
) AS paid_twice
JOIN orders o ON o.id = paid_twice.order_id
WHERE o.id > %(orders_above)s AND o.created_at > %(since)s
"""
_PENDING = "status = 'pending_payment'"
_PAST_SLO = "created_at <= LOCALTIMESTAMP - %(slo)s * interval '1 second'"
# The run's orders placed until `until`: placed, paid, failed, stuck, still within their SLO.
PAYMENTS_SQL = f"""
SELECT count(*), count(*) FILTER (WHERE status = 'paid'),
       count(*) FILTER (WHERE status = 'payment_failed'),
       count(*) FILTER (WHERE {_PENDING} AND {_PAST_SLO}),
       count(*) FILTER (WHERE {_PENDING} AND NOT {_PAST_SLO})
FROM orders
WHERE id > %(orders_above)s AND created_at > %(since)s AND created_at <= %(until)s
"""


@dataclass(frozen=True)
class RunStart:
    """Where the run's orders begin: the database's time at the end of preflight, and the ids
    of the newest order and outbox event then (the run's have greater ones)."""

    at: float
    db_time: datetime
    orders_above: int
    events_above: int


@dataclass(frozen=True)
class PaymentTally:
    """The run's orders by payment state, as one query saw them."""

    placed: int
    paid: int
    failed: int
    stuck: int
    #: Pending, but younger than the SLO: not judged yet.
    waiting: int


def gauge_increases(
    before: ExporterScrape | str, after: ExporterScrape | str
) -> list[InvariantCount]:
    """Return how much each exporter gauge grew; an error string stands for a failed reading."""
    counts = []
    for name, (gauge, description) in GAUGES.items():
        if isinstance(before, str) or isinstance(after, str):
            detail = before if isinstance(before, str) else after
            counts.append(InvariantCount(name, None, description, f"{detail}"))
            continue
        start, end = before.gauges.get(gauge), after.gauges.get(gauge)
        if start is None or end is None:
            when = "before injection" if start is None else "after recovery"
            detail = f"the exporter did not serve {gauge} {when} (still reading the history?)"
            counts.append(InvariantCount(name, None, description, detail))
            continue
        detail = f"{start:g} before, {end:g} after"
        counts.append(InvariantCount(name, max(0, round(end - start)), description, detail))
    return counts


class RunInvariants:
    """Reads one run's invariants: `start` once preflight is done, `mark_before` once the
    steady state holds, `read` after recovery. Straight to PostgreSQL, not through a proxy."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.run_start: RunStart | None = None
        self.before: ExporterScrape | str = "not read before injection"

    def start(self) -> None:
        """Note where the run's orders begin (psycopg.Error if PostgreSQL does not answer)."""
        at = time.time()
        with self._connect() as conn:
            row = conn.execute(RUN_START_SQL).fetchone()
        assert row is not None
        self.run_start = RunStart(at, row[0], int(row[1]), int(row[2]))

    def mark_before(self) -> None:
        """Read the gauges as they are once the run began (an error is kept, not raised)."""
        assert self.run_start is not None
        try:
            self.before = reading_after(self.settings.exporter_url, self.run_start.at, judged=False)
        except TimeoutError as exc:
            self.before = str(exc)

    def read(self, *, wait_for_payments: bool) -> list[InvariantCount]:
        """Return the five counts, the run's orders placed until now judged."""
        assert self.run_start is not None
        now = time.time()
        try:
            with self._connect() as conn:
                until = _one(conn, "SELECT LOCALTIMESTAMP")
                tally = self._await_payments(conn, until, wait=wait_for_payments)
                duplicates = _one(conn, DUPLICATE_PAYMENTS_SQL, self._params(until))
        except psycopg.Error as exc:
            error = f"PostgreSQL: {str(exc).strip().splitlines()[0] if str(exc) else exc}"
            payments = [
                counted(DUPLICATE_PAYMENTS, None, error),
                counted(STUCK_ORDERS, None, error),
            ]
        else:
            payments = [
                counted(DUPLICATE_PAYMENTS, int(duplicates)),
                stuck_count(tally, waited=wait_for_payments),
            ]
        try:
            after: ExporterScrape | str = reading_after(
                self.settings.exporter_url, now, judged=True
            )
        except TimeoutError as exc:
            after = str(exc)
        return [*gauge_increases(self.before, after), *payments]

    def _await_payments(
        self, conn: psycopg.Connection, until: datetime, *, wait: bool
    ) -> PaymentTally:
        """Tally the run's orders; with `wait`, until none waits within its SLO any more."""
        deadline = time.monotonic() + PAYMENT_SLO_S + EXPORTER_WAIT_S
        while True:
            row = conn.execute(PAYMENTS_SQL, self._params(until)).fetchone()
            assert row is not None
            tally = PaymentTally(*(int(v) for v in row))
            if not wait or not tally.waiting or time.monotonic() >= deadline:
                return tally
            time.sleep(ORDERS_POLL_S)

    def _params(self, until: datetime) -> dict[str, object]:
        assert self.run_start is not None
        return {
            "since": self.run_start.db_time,
            "until": until,
            "orders_above": self.run_start.orders_above,
            "events_above": self.run_start.events_above,
            "slo": PAYMENT_SLO_S,
        }

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(
            libpq_url(self.settings.database_url),
            autocommit=True,
            connect_timeout=int(QUERY_TIMEOUT_S),
            application_name="faultyard-invariants",
            options=f"-c statement_timeout={int(QUERY_TIMEOUT_S * 1000)} -c TimeZone=UTC "
            "-c default_transaction_read_only=on",
        )


def _one(conn: psycopg.Connection, sql: str, params: dict[str, object] | None = None) -> Any:
    """Return the first column of a query's one row."""
    row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0]


def stuck_count(tally: PaymentTally, *, waited: bool) -> InvariantCount:
    """Return the stuck orders' count, with the run's orders by state as its detail."""
    detail = (
        f"{tally.placed} orders placed: {tally.paid} paid, {tally.failed} payment failed, "
        f"{tally.stuck + tally.waiting} pending"
    )
    if tally.waiting:
        why = "when the wait ended" if waited else "not waited for"
        detail += f" ({tally.waiting} of them younger than the SLO, not judged: {why})"
    return counted(STUCK_ORDERS, tally.stuck, detail)


def counted(invariant: tuple[str, str], count: int | None, detail: str = "") -> InvariantCount:
    """Return the count of one of the invariants read from the database: (name, description)."""
    name, description = invariant
    return InvariantCount(name, count, description, detail)
