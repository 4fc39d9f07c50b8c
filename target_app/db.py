"""The engine, its instrumented pool, and one lazily created session per request."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from target_app.config import ShopSettings
from target_app.instrumentation import metrics, sampled_gauges, tracing
from target_app.instrumentation.statement_watch import StatementWatch, watched_cursor
from target_app.pool_ping import ping_idle_connections
from target_app.switches import SwitchBoard


class InstrumentedQueuePool(QueuePool):
    """A QueuePool that records how long checkouts wait and how often they time out."""

    def _do_get(self) -> Any:
        started = time.perf_counter()
        try:
            return super()._do_get()
        except PoolTimeoutError:
            metrics.DB_POOL_TIMEOUTS.inc()
            raise
        finally:
            metrics.DB_POOL_CHECKOUT_WAIT.observe(time.perf_counter() - started)


def _track_pool_gauges(engine: Engine) -> None:
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    size = pool.size()
    metrics.DB_POOL_SIZE.set(size)
    # Sampled, not counted in the checkout/checkin events: those fire on every request, and
    # the checkin event fires before the connection is back (checkedout() still counts it).
    sampled_gauges.sample(metrics.DB_POOL_CHECKED_OUT, pool.checkedout)
    sampled_gauges.sample(metrics.DB_POOL_OVERFLOW, lambda: max(0, pool.checkedout() - size))


def make_engine(settings: ShopSettings, *, application_name: str | None = None) -> Engine:
    """Create the engine every shop process uses, with the pool from the settings."""
    connect_args: dict[str, Any] = {
        "connect_timeout": settings.db_connect_timeout_s,
        "application_name": application_name or settings.db_application_name,
        # The timestamp columns hold UTC without a zone (Python writes datetime.now(UTC)):
        # now() and its column defaults must write UTC too, whatever the server's zone.
        "options": "-c TimeZone=UTC",
    }
    tracer = tracing.statement_tracer(settings)
    if settings.instrumentation or tracer is not None:
        database = make_url(settings.database_url).database or ""
        watch = StatementWatch(timed=settings.instrumentation, tracer=tracer, database=database)
        connect_args["cursor_factory"] = watched_cursor(watch)
    engine = create_engine(
        settings.database_url,
        poolclass=InstrumentedQueuePool,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
        pool_timeout=settings.pool_timeout_s,
        connect_args=connect_args,
    )
    ping_idle_connections(
        engine,
        SwitchBoard(settings.switches_file, refresh_s=settings.switch_refresh_s),
        after_idle_s=settings.pool_ping_after_idle_s,
    )
    if settings.instrumentation:
        _track_pool_gauges(engine)
    tracing.instrument_engine(engine, settings)
    return engine


def init_app(app: Flask, settings: ShopSettings) -> None:
    """Attach the engine and a session factory to the app; close sessions at teardown."""
    engine = make_engine(settings)
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_request_session)


def engine() -> Engine:
    """Return the current app's engine."""
    return current_app.extensions["db_engine"]  # type: ignore[no-any-return]


def new_session() -> Session:
    """Open a session the caller must close (the request session is `request_session`)."""
    return current_app.extensions["db_sessionmaker"]()  # type: ignore[no-any-return]


def request_session() -> Session:
    """Return this request's session, creating it on first use."""
    if "db_session" not in g:
        g.db_session = new_session()
    return g.db_session  # type: ignore[no-any-return]


def _close_request_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
