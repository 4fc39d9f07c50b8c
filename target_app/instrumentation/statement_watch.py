"""Every statement the shop sends to PostgreSQL, seen at the psycopg cursor: timed, counted, traced.

The engine's connections make their cursors from a `watched_cursor` class
(psycopg's `cursor_factory`), whose `execute` and `executemany` time the
statement, count it towards the current request (target_app.instrumentation.request_state)
and, inside a recorded span, wrap it in a CLIENT span. A statement that fails
is timed and traced too, with its SQLSTATE.

Why not SQLAlchemy's before/after_cursor_execute events: with a listener on
the engine, every new Connection joins the engine's event dispatchers (a
request makes one Connection and several joined listener collections) and
every statement calls each listener through a wrapper. The shop's metrics and
traces had a pair of listeners each: about 300 Python calls a catalog request,
more than the metrics themselves cost.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import psycopg
from opentelemetry import trace
from opentelemetry.trace import Span, Tracer

from target_app.instrumentation import db_metrics, request_state, span_hooks


class StatementWatch:
    """What to do around each statement: time and count it, and trace it with `tracer`."""

    def __init__(self, *, timed: bool, tracer: Tracer | None, database: str) -> None:
        self.timed = timed
        self.tracer = tracer
        self.database = database

    def started(self, query: object) -> tuple[float, Span | None]:
        """Note a statement about to run; return what `finished` needs."""
        observed = request_state.current()
        if observed is not None:  # in a request: counted, and traced if the request is
            observed.statements += 1
            text = query if isinstance(query, str) else _text(query)
            runs = observed.statement_runs[text] = observed.statement_runs.get(text, 0) + 1
            if runs > observed.most_repeated:
                observed.most_repeated = runs
            recording = observed.recording
        else:  # a job, the relay, a script
            recording = self.tracer is not None and trace.get_current_span().is_recording()
        span = None
        if recording and self.tracer is not None:
            span = span_hooks.statement_span(self.tracer, _text(query), self.database)
        return time.perf_counter(), span

    def finished(
        self, query: object, started: float, span: Span | None, error: BaseException | None
    ) -> None:
        """Record a statement that ran (or failed with `error`)."""
        if self.timed:
            db_metrics.observe_statement(_text(query), time.perf_counter() - started)
        if span is not None:
            span_hooks.end_statement_span(span, error)


def watched_cursor(watch: StatementWatch) -> type[psycopg.Cursor[Any]]:
    """Return a psycopg cursor class that reports every statement to `watch`."""

    class WatchedCursor(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **options: Any) -> WatchedCursor:
            started, span = watch.started(query)
            try:
                super().execute(query, params, **options)
            except BaseException as error:
                watch.finished(query, started, span, error)
                raise
            watch.finished(query, started, span, None)
            return self

        def executemany(self, query: Any, params_seq: Iterable[Any], **options: Any) -> None:
            started, span = watch.started(query)
            try:
                super().executemany(query, params_seq, **options)
            except BaseException as error:
                watch.finished(query, started, span, error)
                raise
            watch.finished(query, started, span, None)

    return WatchedCursor


def _text(query: object) -> str:
    # SQLAlchemy passes strings; psycopg also takes bytes and sql.Composable objects.
    if isinstance(query, str):
        return query
    if isinstance(query, bytes):
        return query.decode(errors="replace")
    return ""
