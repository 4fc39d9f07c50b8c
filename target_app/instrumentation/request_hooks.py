"""The request hooks: metrics (RED by route template), request ids, access logs and request spans."""

from __future__ import annotations

import logging
from random import getrandbits
from time import perf_counter

from flask import Flask, Response, current_app, request

from target_app.instrumentation import metrics, request_state, sampled_gauges
from target_app.instrumentation.direct_lines import DirectLines
from target_app.instrumentation.request_state import ObservedRequest
from target_app.instrumentation.span_hooks import ADMIN_PREFIX, RequestSpans

access_log = DirectLines(logging.getLogger("target_app.access"))

UNMATCHED_ROUTE = "<unmatched>"


class InFlight:
    """Requests this process is serving: counted in memory, published by the gauge sampler."""

    count = 0


class _RouteMetrics:
    """The metric children of one (method, route, status), looked up once."""

    __slots__ = ("duration", "queries", "repeats", "requests")

    def __init__(self, method: str, route: str, status: int) -> None:
        self.requests = metrics.HTTP_REQUESTS.labels(method, route, str(status))
        self.duration = metrics.HTTP_DURATION.labels(method, route)
        self.queries = metrics.DB_QUERIES_PER_REQUEST.labels(route)
        self.repeats = metrics.DB_STATEMENT_REPEATS_PER_REQUEST.labels(route)


_route_metrics: dict[tuple[str, str, int], _RouteMetrics] = {}
#: Routes polled by machines: counted, but not logged.
_UNLOGGED_ROUTES = frozenset({"/metrics", "/healthz"})


def _admin_hidden() -> bool:
    """Return whether a drill hides the admin API's traces (target_app.blueprints.admin)."""
    settings = current_app.extensions.get("settings")
    return settings is not None and settings.listings_hidden_file.exists()


def new_request_id() -> str:
    """Return a fresh request id: 32 hex digits (an id, not a secret)."""
    return f"{getrandbits(128):032x}"


def init_app(app: Flask, spans: RequestSpans | None = None) -> None:
    """Time every request, count it by method, route template and status, log it, trace it.

    One hook of each kind does all of it (with `spans`, the requests' SERVER
    spans too): every hook Flask calls costs its dispatch and a lookup of the
    request, so the instrumentation adds three hooks, not six.
    """
    sampled_gauges.sample(metrics.HTTP_IN_FLIGHT, lambda: InFlight.count)

    def _start() -> None:
        req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
        observed = ObservedRequest(
            req.environ.get("HTTP_X_REQUEST_ID") or new_request_id(), perf_counter()
        )
        request_state.begin(observed)
        InFlight.count += 1
        if spans is not None:
            rule = req.url_rule
            entered = spans.enter(req, rule.rule if rule is not None else None)
            if entered is not None:
                observed.span, observed.span_token = entered
                observed.recording = entered[0].is_recording()

    def _finish(response: Response) -> Response:
        observed = request_state.current()
        if observed is None:
            return response
        elapsed = perf_counter() - observed.started
        InFlight.count -= 1
        observed.in_flight = False
        req = request._get_current_object()  # type: ignore[attr-defined]
        rule = req.url_rule
        route = rule.rule if rule is not None else UNMATCHED_ROUTE
        method = req.method
        status = response.status_code
        if route.startswith(ADMIN_PREFIX) and _admin_hidden():
            return response  # a drill runs: the lab's control panel leaves no metric, no line
        key = (method, route, status)
        children = _route_metrics.get(key)
        if children is None:
            children = _route_metrics[key] = _RouteMetrics(method, route, status)
        children.requests.inc()
        children.duration.observe(elapsed)
        children.queries.observe(observed.statements)
        children.repeats.observe(observed.most_repeated)
        response.headers["X-Request-ID"] = observed.request_id
        if observed.recording:
            RequestSpans.finish(observed.span, status, observed.request_id)  # type: ignore[arg-type]
        if route not in _UNLOGGED_ROUTES:
            access_log.info(
                "request",
                {
                    "request_id": observed.request_id,
                    "method": method,
                    "route": route,
                    # Admin requests by their route alone: see span_hooks.ADMIN_PREFIX.
                    "path": route if route.startswith(ADMIN_PREFIX) else req.path,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
                observed.span,
            )
        return response

    def _end(exc: BaseException | None) -> None:
        observed = request_state.current()
        if observed is None:
            return
        if observed.in_flight:  # no response was made (an after_request hook failed)
            InFlight.count -= 1
        if observed.span is not None:
            RequestSpans.exit(observed.span, observed.span_token, exc)
        request_state.end(observed)

    # First of the before_request functions, so the timer and the span cover all of them.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    app.teardown_request(_end)
