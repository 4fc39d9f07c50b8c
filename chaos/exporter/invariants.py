"""Business invariants of the shop, computed from PostgreSQL and the consumer stream.

The exporter connects straight to PostgreSQL and Redis (never through the
proxies), in autocommit (it never leaves a transaction idle), with short
timeouts. Each read costs a few small queries: outbox events are read once,
as they come (chaos.exporter.outbox_tail), not rescanned every second.

- shop_invariant_oversold_units: units sold that never existed. Checkout
  writes an `order.placed` outbox event in its transaction, with each line's
  quantity and the stock it left (`stock_after`), so the line sold the units
  numbered stock_after .. stock_after + quantity - 1 of its product. Stock only
  goes down in this shop (there is no restock path), so in a correct history
  no two checkouts sell the same unit number of one product. Per product,
  oversold = units sold - distinct unit numbers sold: what a lost update (two
  checkouts that read the same stock, each selling the same units) leaves
  behind, counted from the moment it happens. A negative stock is oversold by
  at least its magnitude: the larger of the two counts.
- shop_invariant_duplicate_orders: orders beyond the first for one cart (a
  retried checkout that made a second order), among the last WINDOW_ORDERS
  orders, plus order.placed events beyond the first that carry one client
  Idempotency-Key (`request_key`: a retried purchase placed twice), among the
  last WINDOW_ORDERS events.
- shop_invariant_lost_events: outbox events marked published that the
  consumer stream never held (see chaos.exporter.stream).

The exporter reads the whole outbox history once when it starts, and serves
oversold units and lost events once it has caught up; after that each event
is read once. Products and events deleted since stop counting.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from chaos.exporter.outbox_tail import OutboxRow, OutboxTail
from chaos.exporter.polling import Poller
from chaos.exporter.stream import StreamWatch
from chaos.settings import libpq_url

WINDOW_ORDERS = 10_000
CONNECT_TIMEOUT_S = 2  # libpq's minimum
STATEMENT_TIMEOUT_MS = 2000
APPLICATION_NAME = "faultyard-exporter"

NEGATIVE_STOCK_SQL = "SELECT id, -stock FROM products WHERE stock < 0"
# Orders beyond the first of one cart, plus order.placed events beyond the first that carry
# one client Idempotency-Key (one purchase placed twice): each among the latest `window`.
DUPLICATES_SQL = """
SELECT
  (SELECT count(*) - count(DISTINCT cart_id) FROM orders
   WHERE id > (SELECT coalesce(max(id), 0) FROM orders) - %(window)s)
+ (SELECT count(*) - count(DISTINCT payload ->> 'request_key') FROM outbox_events
   WHERE id > (SELECT coalesce(max(id), 0) FROM outbox_events) - %(window)s
     AND topic = 'order.placed' AND payload ? 'request_key')
"""
EXISTING_PRODUCTS_SQL = "SELECT id FROM products WHERE id = ANY(%s)"
RECHECK_SQL = "SELECT id, published_at FROM outbox_events WHERE id = ANY(%s)"
# Unpublished events are looked at again at every read, the oldest first (the
# relay publishes in id order); lost ones, to see whether they were deleted, less often.
RECHECK_UNPUBLISHED = 1000
RECHECK_LOST_S = 5.0


@dataclass(frozen=True)
class DatabaseReading:
    """What one read of the database found; None where the outbox is not caught up yet."""

    oversold_units: int | None
    duplicate_orders: int


class Ledger:
    """The unit numbers sold per product, from order.placed events, and how many were sold twice."""

    def __init__(self) -> None:
        self.sold_units: dict[int, set[int]] = defaultdict(set)
        self.resold: dict[int, int] = defaultdict(int)

    def add(self, payload: Any) -> None:
        """Count one order.placed payload; lines without whole numbers are skipped."""
        items = payload.get("items") if isinstance(payload, dict) else None
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            product, quantity, after = (
                item.get(k) for k in ("product_id", "quantity", "stock_after")
            )
            if not all(
                isinstance(v, int) and not isinstance(v, bool) for v in (product, quantity, after)
            ):
                continue
            units = range(after, after + quantity)
            sold = self.sold_units[product]
            self.resold[product] += sum(unit in sold for unit in units)
            sold.update(units)

    def oversold_products(self) -> dict[int, int]:
        """Return the products that sold some units more than once, with how many more."""
        return {product: units for product, units in self.resold.items() if units}


def oversold_units(ledger: dict[int, int], negative_stock: dict[int, int]) -> int:
    """Combine, per product, the ledger's count and the negative stock: the larger one counts."""
    products = ledger.keys() | negative_stock.keys()
    return sum(max(ledger.get(p, 0), negative_stock.get(p, 0)) for p in products)


class ShopInvariants:
    """Keeps the invariants from PostgreSQL (`read_database`) and the stream (`read_stream`).

    Each method is one poller's fetch. An event is judged lost only by a stream
    read that started after the database read that found it published: the relay
    adds an event to the stream before it marks it published, so a lost event
    is one the stream did not hold even then.
    """

    def __init__(
        self, database_url: str, watch: StreamWatch, *, window: int = WINDOW_ORDERS
    ) -> None:
        self.url = libpq_url(database_url)
        self.watch = watch
        self.window = window
        self.tail = OutboxTail()
        self.ledger = Ledger()
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()
        self._unpublished: set[int] = set()
        # published events not seen in the stream yet: id -> (published_at, when found)
        self._unconfirmed: dict[int, tuple[datetime, float]] = {}
        self._lost: set[int] = set()  # judged lost: published, and the stream never held them
        self._lost_checked_at = float("-inf")
        self._outbox_caught_up = False

    def read_database(self) -> DatabaseReading:
        """Read what changed in the database; raise psycopg.Error if PostgreSQL does not answer."""
        try:
            conn = self._connection()
            rows = self.tail.read(conn)
            for row in rows:
                if row.topic == "order.placed":
                    self.ledger.add(row.payload)
            oversold = self.ledger.oversold_products()
            existing = _ids(conn, EXISTING_PRODUCTS_SQL, sorted(oversold))
            negative = dict(conn.execute(NEGATIVE_STOCK_SQL).fetchall())
            with self._lock:
                # Unpublished events, to see them published; lost ones, to see them deleted.
                recheck_ids = sorted(self._unpublished)[:RECHECK_UNPUBLISHED]
                if time.monotonic() - self._lost_checked_at >= RECHECK_LOST_S:
                    recheck_ids = sorted(set(recheck_ids) | self._lost)
                    self._lost_checked_at = time.monotonic()
            recheck = conn.execute(RECHECK_SQL, (recheck_ids,)).fetchall() if recheck_ids else []
            duplicates = conn.execute(DUPLICATES_SQL, {"window": self.window}).fetchone()
        except psycopg.Error:
            self.close()
            raise
        found_at = time.monotonic()
        with self._lock:
            self._track_publication(rows, recheck, recheck_ids, found_at)
            self._outbox_caught_up = self._outbox_caught_up or self.tail.caught_up
            caught_up = self._outbox_caught_up
        ledger = {product: units for product, units in oversold.items() if product in existing}
        return DatabaseReading(
            oversold_units=oversold_units(ledger, negative) if caught_up else None,
            duplicate_orders=int(duplicates[0]) if duplicates else 0,
        )

    def read_stream(self) -> int | None:
        """Read the stream and return the lost events; None until both sources are caught up."""
        started = time.monotonic()
        if not self.watch.read():
            return None  # still catching up with a long stream
        with self._lock:
            if not self._outbox_caught_up:
                return None
            # Found published after this read began: judged next time.
            ready = [i for i, (_at, found_at) in self._unconfirmed.items() if found_at <= started]
            for event_id in ready:
                published_at, _found_at = self._unconfirmed.pop(event_id)
                if not self.watch.take(event_id) and self.watch.can_judge(published_at):
                    self._lost.add(event_id)
                # else: in the stream, or it may have been trimmed unread (unknowable)
            arrived_late = self._lost & self.watch.seen
            self._lost -= arrived_late
            self.watch.seen -= arrived_late
            return len(self._lost)

    def close(self) -> None:
        """Close the connection (the next read opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _track_publication(
        self,
        rows: list[OutboxRow],
        recheck: list[tuple[int, datetime | None]],
        recheck_ids: list[int],
        found_at: float,
    ) -> None:
        for row in rows:
            if row.published_at is None:
                self._unpublished.add(row.id)
            else:
                self._unconfirmed[row.id] = (row.published_at, found_at)
        present = dict(recheck)
        for event_id in recheck_ids:
            if event_id not in present:  # deleted meanwhile: forgotten
                self._unpublished.discard(event_id)
                self._lost.discard(event_id)
            elif event_id in self._unpublished and (published_at := present[event_id]):
                self._unpublished.discard(event_id)
                self._unconfirmed[event_id] = (published_at, found_at)

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name=APPLICATION_NAME,
                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            )
        return self._conn


def _ids(conn: psycopg.Connection, sql: str, ids: list[int]) -> set[int]:
    return {row[0] for row in conn.execute(sql, (ids,))} if ids else set()


class InvariantCollector(Collector):
    """Export the shop_invariant_* gauges from the pollers' latest readings."""

    def __init__(self, database: Poller[DatabaseReading], stream: Poller[int | None]) -> None:
        self.database = database
        self.stream = stream

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield each invariant its sources could compute recently; omit the others."""
        reading = self.database.snapshot().value
        if reading is not None and reading.oversold_units is not None:
            yield GaugeMetricFamily(
                "shop_invariant_oversold_units",
                "Units sold beyond the stock that existed (order.placed events, negative stock).",
                value=reading.oversold_units,
            )
        if reading is not None:
            yield GaugeMetricFamily(
                "shop_invariant_duplicate_orders",
                "Orders beyond the first for one cart or one client Idempotency-Key, among the "
                f"last {WINDOW_ORDERS} orders and order.placed events.",
                value=reading.duplicate_orders,
            )
        lost = self.stream.snapshot().value
        if lost is not None and reading is not None:
            yield GaugeMetricFamily(
                "shop_invariant_lost_events",
                "Outbox events marked published that the consumer stream never held.",
                value=lost,
            )
