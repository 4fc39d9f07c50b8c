"""Per-request metrics (RED by route template), request ids, and access logs."""

from __future__ import annotations

import logging
from random import getrandbits
from time import perf_counter

from flask import Flask, Response, g, request

from target_app import db_metrics, metrics, sampled_gauges

log = logging.getLogger("target_app.access")

UNMATCHED_ROUTE = "<unmatched>"


class InFlight:
    """Requests this process is serving: counted in memory, published by the gauge sampler."""

    count = 0


class _RouteMetrics:
    """The metric children of one (method, route, status), looked up once."""

    __slots__ = ("duration", "queries", "requests")

    def __init__(self, method: str, route: str, status: int) -> None:
        self.requests = metrics.HTTP_REQUESTS.labels(method, route, str(status))
        self.duration = metrics.HTTP_DURATION.labels(method, route)
        self.queries = metrics.DB_QUERIES_PER_REQUEST.labels(route)


_route_metrics: dict[tuple[str, str, int], _RouteMetrics] = {}
#: Routes polled by machines: counted, but not logged.
_UNLOGGED_ROUTES = frozenset({"/metrics", "/healthz"})


def new_request_id() -> str:
    """Return a fresh request id: 32 hex digits (an id, not a secret)."""
    return f"{getrandbits(128):032x}"


def init_app(app: Flask) -> None:
    """Time every request and count it by method, route template and status."""
    sampled_gauges.sample(metrics.HTTP_IN_FLIGHT, lambda: InFlight.count)

    @app.before_request
    def _start() -> None:
        app_globals = g._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
        environ = request.environ
        app_globals.request_id = environ.get("HTTP_X_REQUEST_ID") or new_request_id()
        app_globals.request_started = perf_counter()
        InFlight.count += 1
        db_metrics.start_request_count()

    @app.after_request
    def _finish(response: Response) -> Response:
        app_globals = g._get_current_object()  # type: ignore[attr-defined]
        started = app_globals.pop("request_started", None)
        if started is None:
            return response
        elapsed = perf_counter() - started
        InFlight.count -= 1
        req = request._get_current_object()  # type: ignore[attr-defined]
        rule = req.url_rule
        route = rule.rule if rule is not None else UNMATCHED_ROUTE
        method = req.method
        status = response.status_code
        key = (method, route, status)
        children = _route_metrics.get(key)
        if children is None:
            children = _route_metrics[key] = _RouteMetrics(method, route, status)
        children.requests.inc()
        children.duration.observe(elapsed)
        queries = db_metrics.finish_request_count()
        if queries is not None:
            children.queries.observe(queries)
        response.headers["X-Request-ID"] = app_globals.request_id
        if route not in _UNLOGGED_ROUTES:
            log.info(
                "request",
                extra={
                    "request_id": app_globals.request_id,
                    "method": method,
                    "route": route,
                    "path": req.path,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
        return response
