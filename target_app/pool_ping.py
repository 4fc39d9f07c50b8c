"""Pinging a pooled connection before use when it sat idle long enough to have been dropped.

The `no_pool_pre_ping` bug lives here, next to its fix. Something between the
shop and PostgreSQL (a firewall, a NAT gateway) may forget a connection that
carried nothing for a while; the pool cannot tell until the connection is used.

The fix pings a connection as it leaves the pool, as SQLAlchemy's
`pool_pre_ping=True` does, but only one that sat in the pool longer than
`pool_ping_after_idle_s` (HikariCP's `aliveBypassWindowMs`): a connection
returned a moment ago cannot have been dropped for being idle, so under load the
pool's busy connections never pay a round trip. A dead one is discarded and the
pool connects that entry again. The ping goes through a plain
psycopg cursor: it is the pool's work, not a statement of the request.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psycopg
from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from target_app.instrumentation import metrics
from target_app.switches import SwitchBoard

#: Where a pool entry keeps the moment its connection came back (monotonic seconds).
RETURNED_AT = "faultyard_returned_at"


def ping_idle_connections(engine: Engine, switches: SwitchBoard, *, after_idle_s: float) -> None:
    """Ping each connection that sat in the engine's pool longer than `after_idle_s`."""

    @event.listens_for(engine.pool, "checkin")
    def _returned(_dbapi_connection: Any, entry: ConnectionPoolEntry | None) -> None:
        if entry is not None:
            entry.info[RETURNED_AT] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping_if_idle(
        dbapi_connection: Any, entry: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        if switches.is_on("no_pool_pre_ping"):
            # BUG: handed out unchecked. A connection closed while it sat in the pool (a
            # firewall's idle timeout, a database restart) fails the request that gets it.
            return
        # FIX: a connection idle long enough to have been dropped costs one round trip first.
        returned_at = entry.info.get(RETURNED_AT)
        if returned_at is None or time.monotonic() - returned_at < after_idle_s:
            return  # new, or back in the pool a moment ago
        try:
            _ping(dbapi_connection)
        except psycopg.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                metrics.DB_POOL_PINGS.labels(outcome="dead").inc()
                # The pool invalidates this entry and connects it again (SQLAlchemy's retry).
                raise DisconnectionError(f"pooled connection is dead: {exc}") from exc
            raise
        metrics.DB_POOL_PINGS.labels(outcome="alive").inc()


def _ping(connection: psycopg.Connection[Any]) -> None:
    """Send `SELECT 1` outside any transaction (as SQLAlchemy's own ping does).

    In autocommit for the moment: otherwise the ping would open the request's transaction
    early (its now(), its xact_start) and leave the connection idle in transaction.
    """
    connection.autocommit = True  # client-side only: no round trip
    try:
        with psycopg.Cursor(connection) as cursor:
            cursor.execute("SELECT 1")
    finally:
        if not connection.closed:
            with contextlib.suppress(psycopg.Error):  # a broken one is discarded anyway
                connection.autocommit = False
