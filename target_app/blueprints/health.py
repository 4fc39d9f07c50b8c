"""Liveness, readiness (PostgreSQL and Redis reachable) and Prometheus metrics."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app
from pydantic import BaseModel
from redis.exceptions import RedisError
from spectree import Response as Resp
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from target_app.api import api
from target_app.db import engine
from target_app.instrumentation import metrics

bp = Blueprint("health", __name__)


class Liveness(BaseModel):
    status: str


class DependencyCheck(BaseModel):
    ok: bool
    latency_ms: float
    error: str | None = None


class Readiness(BaseModel):
    status: str
    checks: dict[str, DependencyCheck]


@bp.get("/healthz")
@api.validate(resp=Resp(HTTP_200=Liveness), tags=["health"])
def healthz() -> Liveness:
    """Answer as long as the process serves requests."""
    return Liveness(status="ok")


def _check(probe: object) -> DependencyCheck:
    started = time.perf_counter()
    try:
        probe()  # type: ignore[operator]
    except (SQLAlchemyError, RedisError, OSError) as exc:
        error: str | None = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    else:
        error = None
    return DependencyCheck(
        ok=error is None, latency_ms=round((time.perf_counter() - started) * 1000, 2), error=error
    )


def _ping_postgres() -> None:
    with engine().connect() as conn:
        conn.execute(text("SELECT 1"))


def _ping_redis() -> None:
    current_app.extensions["redis"].ping()


@bp.get("/readyz")
@api.validate(resp=Resp(HTTP_200=Readiness, HTTP_503=Readiness), tags=["health"])
def readyz() -> tuple[Readiness, int]:
    """Answer 200 when PostgreSQL and Redis answer, 503 naming what does not."""
    checks = {"postgres": _check(_ping_postgres), "redis": _check(_ping_redis)}
    ready = all(c.ok for c in checks.values())
    return Readiness(status="ready" if ready else "unavailable", checks=checks), (
        200 if ready else 503
    )


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    """Expose Prometheus metrics of every shop process."""
    body, content_type = metrics.render_latest()
    return Response(body, content_type=content_type)
