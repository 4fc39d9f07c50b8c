"""Server spans for Flask requests (Flask's hooks) and client spans for SQL statements.

Lean on purpose. opentelemetry-instrumentation-flask and -sqlalchemy cost the
shop about 1,400 Python calls a request (collecting two dozen attributes,
rebuilding the URL three times, asking libpq for the database name at every
statement): measured with callgrind, +49 % instructions per catalog request.
These hooks record what `faultyard traces` and a person read (method, route,
path, status; the statement and its SQLSTATE) for a fraction of that, with
the stable semantic-convention names. Statements reach their span functions
from target_app.instrumentation.statement_watch, at the psycopg cursor. Redis keeps its OTel
instrumentation.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from flask import Request
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from target_app.instrumentation.db_metrics import operation_of
from target_app.pgerrors import sqlstate

#: The SQLSTATE of a failed statement, as the database semantic conventions name it.
DB_SQLSTATE = "db.response.status_code"
#: Scraped every second or polled by the stack: their spans would bury the requests.
UNTRACED_ROUTES = frozenset({"/metrics", "/healthz", "/readyz"})
#: The admin API is the lab's control panel (switches, settings): its requests are not
#: traced, and the access log names them by route, so that neither says which switch a
#: drill turned on.
ADMIN_PREFIX = "/admin/"


def untraced(route: str | None) -> bool:
    """Return whether requests of this route get no span."""
    return route in UNTRACED_ROUTES or (route or "").startswith(ADMIN_PREFIX)


_PROPAGATOR = TraceContextTextMapPropagator()


def unsampled_root() -> NonRecordingSpan:
    """Return a span that records nothing but carries a fresh, unsampled trace context.

    What the SDK makes of a root it decides to drop, for a fraction of the cost: the
    request's log lines and outbox event still carry a trace id (flag 00), so the
    relay and the job follow the decision rather than start traces of their own.
    """
    return NonRecordingSpan(
        SpanContext(
            trace_id=random.getrandbits(128) or 1,
            span_id=random.getrandbits(64) or 1,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.DEFAULT),
        )
    )


class RequestSpans:
    """The SERVER span of each request, continuing the caller's `traceparent` if any.

    `would_sample` tells whether a new trace would be sampled now (the rate
    limit); when it would not, the request gets an `unsampled_root` instead of
    an SDK span. target_app.instrumentation.request_hooks calls `enter` first of the request
    hooks (the span covers all of them), `finish` with the response, `exit` at
    teardown.
    """

    def __init__(self, tracer: Tracer, would_sample: Callable[[], bool]) -> None:
        self.tracer = tracer
        self.would_sample = would_sample

    def enter(self, req: Request, route: str | None) -> tuple[Span, object] | None:
        """Start the request's span and make it current; return it and its context token."""
        if untraced(route):
            return None
        environ = req.environ
        parent = None
        if "HTTP_TRACEPARENT" in environ:
            parent = _PROPAGATOR.extract(
                {
                    "traceparent": environ["HTTP_TRACEPARENT"],
                    "tracestate": environ.get("HTTP_TRACESTATE", ""),
                }
            )
        method = req.method
        if parent is None and not self.would_sample():
            span: Span = unsampled_root()
        else:
            span = self.tracer.start_span(
                f"{method} {route}" if route else method,
                context=parent,
                kind=SpanKind.SERVER,
                attributes={
                    "http.request.method": method,
                    "http.route": route or "",
                    "url.path": req.path,
                },
            )
        return span, otel_context.attach(trace.set_span_in_context(span))

    @staticmethod
    def finish(span: Span, status: int, request_id: str) -> None:
        """Record the response on a recording span: its status (5xx is an error)."""
        span.set_attributes({"http.response.status_code": status, "shop.request_id": request_id})
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))

    @staticmethod
    def exit(span: Span, token: object, exc: BaseException | None) -> None:
        """End the span (failed with `exc`, if any) and detach it."""
        if isinstance(exc, GeneratorExit):
            # A streamed response (SSE) whose client left: the normal end of a stream.
            span.set_attribute("shop.client_disconnected", True)
        elif exc is not None:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        otel_context.detach(token)  # type: ignore[arg-type]
        span.end()


def statement_span(tracer: Tracer, statement: str, database: str) -> Span:
    """Start the CLIENT span of a statement about to run (in the current span)."""
    return tracer.start_span(
        f"{operation_of(statement)} {database}",  # as the statement metrics label it
        kind=SpanKind.CLIENT,
        # Few attributes: each one costs every statement (the name holds the rest).
        attributes={"db.system.name": "postgresql", "db.query.text": statement},
    )


def end_statement_span(span: Span, error: BaseException | None) -> None:
    """End a statement's span; a failed one is an error with its SQLSTATE."""
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        code = sqlstate(error)
        if code:
            span.set_attribute(DB_SQLSTATE, code)
    span.end()
