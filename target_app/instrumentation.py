"""Per-request metrics (RED by route template), request ids, and access logs."""

from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, Response, g, request

from target_app import metrics

log = logging.getLogger("target_app.access")

UNMATCHED_ROUTE = "<unmatched>"


def _route() -> str:
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE


def init_app(app: Flask) -> None:
    """Time every request and count it by method, route template and status."""

    @app.before_request
    def _start() -> None:
        g.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        g.request_started = time.perf_counter()
        metrics.HTTP_IN_FLIGHT.inc()

    @app.after_request
    def _finish(response: Response) -> Response:
        started = g.pop("request_started", None)
        if started is None:
            return response
        elapsed = time.perf_counter() - started
        route = _route()
        metrics.HTTP_IN_FLIGHT.dec()
        metrics.HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        metrics.HTTP_DURATION.labels(request.method, route).observe(elapsed)
        response.headers["X-Request-ID"] = g.request_id
        if route not in ("/metrics", "/healthz"):
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "route": route,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
        return response
