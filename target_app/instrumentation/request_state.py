"""The request being served, as the shop's instrumentation sees it: one object a request.

The request hooks (target_app.instrumentation.request_hooks) open it and close it; the
statement watch counts the request's statements on it and asks it whether
the request is traced; log lines take the request id from it. It lives in a
ContextVar, read with one call (Flask's `g` costs a few a read, and every
request read it a dozen times); each gevent greenlet has a context of its own,
so concurrent requests never mix.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token

from opentelemetry.trace import Span


class ObservedRequest:
    """One request: its id, when it started, its statements and its span (if traced)."""

    __slots__ = (
        "in_flight",
        "most_repeated",
        "recording",
        "request_id",
        "span",
        "span_token",
        "started",
        "statement_runs",
        "statements",
        "token",
    )

    def __init__(self, request_id: str, started: float) -> None:
        self.request_id = request_id
        self.started = started
        self.statements = 0
        #: How often each SQL text ran, and the highest count: an N+1 runs one text per row.
        self.statement_runs: dict[str, int] = {}
        self.most_repeated = 0
        #: Counted in flight until its response is ready (a stream's body is not waited for).
        self.in_flight = True
        #: The request's SERVER span and the token that detaches it (None: not traced).
        self.span: Span | None = None
        self.span_token: object = None
        #: Whether the request's span records (its statements get spans of their own).
        self.recording = False
        self.token: Token[ObservedRequest | None] | None = None


_current: ContextVar[ObservedRequest | None] = ContextVar("observed_request", default=None)

#: Return the request being served in this context (None outside the request hooks).
current: Callable[[], ObservedRequest | None] = _current.get


def begin(observed: ObservedRequest) -> None:
    """Make `observed` the current request until `end`."""
    observed.token = _current.set(observed)


def end(observed: ObservedRequest) -> None:
    """Close `observed`: statements from here on count towards no request."""
    if observed.token is not None:
        _current.reset(observed.token)
        observed.token = None
