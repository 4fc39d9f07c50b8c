"""The monitoring services of the native stack: Prometheus, the exporters, rq-dashboard, the console.

The exporters talk to PostgreSQL and Redis directly, never through the proxies,
like a sidecar in production: a network fault must not blind the monitoring.
They keep running (and report `pg_up 0`, `redis_up 0`) while their target is down;
rq-exporter keeps running too but answers 500, so Prometheus shows job="rq" down.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import requests

from chaos.errors import MissingDependencyError
from chaos.monitoring import prometheus
from chaos.monitoring.prometheus import PrometheusClient, PrometheusError
from chaos.settings import StackSettings
from chaos.stack.service import NotReady, Service, program

CHECK_TIMEOUT_S = 2.0
# `make setup` builds rq-exporter's own venv here (it needs redis<6, the shop uses redis 8).
RQ_EXPORTER_VENV = Path(__file__).resolve().parents[2] / ".venv-rq-exporter"


def _http_ready(url: str) -> None:
    try:
        response = requests.get(url, timeout=CHECK_TIMEOUT_S)
    except requests.RequestException as exc:
        raise NotReady(type(exc).__name__) from None
    if response.status_code != 200:
        raise NotReady(f"{url} answered {response.status_code}")


def prometheus_ready(settings: StackSettings, pid: int) -> None:
    """Ask Prometheus's /-/ready (200 once its storage is open and it serves queries)."""
    try:
        PrometheusClient(settings.prometheus_url, timeout_s=CHECK_TIMEOUT_S).ready()
    except PrometheusError as exc:
        raise NotReady(str(exc)) from None


def metrics_ready(url_of: Callable[[StackSettings], str]) -> Callable[[StackSettings, int], None]:
    """Return a check that an exporter's metrics URL (`url_of(settings)`) answers 200."""

    def ready(settings: StackSettings, pid: int) -> None:
        _http_ready(url_of(settings))

    return ready


def rq_dashboard_ready(settings: StackSettings, pid: int) -> None:
    """Load rq-dashboard's front page."""
    _http_ready(settings.rq_dashboard_url + "/")


def _listen(settings: StackSettings, port: int) -> str:
    host = settings.host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _prometheus_argv(settings: StackSettings) -> list[str]:
    data = settings.state_path / "prometheus" / "data"
    data.mkdir(parents=True, exist_ok=True)
    return [
        program("prometheus", "prometheus"),
        f"--config.file={prometheus.config_path(settings)}",
        f"--storage.tsdb.path={data}",
        f"--storage.tsdb.retention.time={prometheus.RETENTION}",
        f"--web.listen-address={_listen(settings, settings.prometheus_port)}",
    ]


def _postgres_dsn(settings: StackSettings) -> str:
    # The maintenance database: every view the exporter reads (pg_stat_database,
    # pg_stat_activity, pg_locks) is cluster-wide, and it exists before the shop's does.
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return (
        f"postgresql://{settings.pg_user}@{host}:{settings.pg_port}/postgres"
        "?sslmode=disable&application_name=postgres_exporter"
    )


def _postgres_exporter_argv(settings: StackSettings) -> list[str]:
    # The exporter reads its DSN from the environment only; env(1) execs it (same PID).
    return [
        shutil.which("env") or "/usr/bin/env",
        f"DATA_SOURCE_NAME={_postgres_dsn(settings)}",
        program("prometheus-postgres-exporter", "prometheus-postgres-exporter"),
        f"--web.listen-address={_listen(settings, settings.postgres_exporter_port)}",
        f"--extend.query-path={prometheus.POSTGRES_QUERIES}",
    ]


def _redis_exporter_argv(settings: StackSettings) -> list[str]:
    return [
        program("prometheus-redis-exporter", "prometheus-redis-exporter"),
        f"--redis.addr={settings.redis_url}",
        f"--web.listen-address={_listen(settings, settings.redis_exporter_port)}",
    ]


def rq_exporterprogram(settings: StackSettings) -> Path:
    """Return rq-exporter's program: FAULTYARD_RQ_EXPORTER_BIN, or the repo's own venv's."""
    path = settings.rq_exporter_bin or RQ_EXPORTER_VENV / "bin" / "rq-exporter"
    if not path.is_file():
        raise MissingDependencyError(
            f"rq-exporter not found at {path}; run `make setup` (it builds {RQ_EXPORTER_VENV.name}"
            " with rq-exporter, which needs redis<6) or set FAULTYARD_RQ_EXPORTER_BIN"
        )
    return path


def _rq_exporter_argv(settings: StackSettings) -> list[str]:
    return [
        str(rq_exporterprogram(settings)),
        "--host",
        settings.host,
        "--port",
        str(settings.rq_exporter_port),
        "--redis-url",
        settings.redis_url,
    ]


def _rq_dashboard_argv(settings: StackSettings) -> list[str]:
    return [
        str(Path(sys.executable).with_name("rq-dashboard")),
        "--bind",
        settings.host,
        "--port",
        str(settings.rq_dashboard_port),
        "--redis-url",
        settings.redis_url,
    ]


def _console_argv(settings: StackSettings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "chaos.console",
        "--host",
        settings.host,
        "--port",
        str(settings.console_port),
        "--prometheus-url",
        settings.prometheus_url,
    ]


def console_ready(settings: StackSettings, pid: int) -> None:
    """Ask the console's /healthz."""
    _http_ready(settings.console_url + "/healthz")


def _exporter(name: str, argv: Callable[[StackSettings], list[str]], setting: str) -> Service:
    """An exporter on the port `{setting}_port`, ready once `{setting}_url` answers 200."""

    def url(settings: StackSettings) -> str:
        return str(getattr(settings, f"{setting}_url"))

    port = f"{setting}_port"
    return Service(
        name=name,
        stage=0,
        argv=argv,
        ready=metrics_ready(url),
        address=url,
        ports=lambda s: [(getattr(s, port), f"FAULTYARD_{port.upper()}")],
    )


def monitoring_services(settings: StackSettings) -> list[Service]:
    """Return the monitoring services; they start alongside the data stores (stage 0)."""
    return [
        Service(
            name="prometheus",
            stage=0,
            argv=_prometheus_argv,
            ready=prometheus_ready,
            address=lambda s: s.prometheus_url,
            ports=lambda s: [(s.prometheus_port, "FAULTYARD_PROMETHEUS_PORT")],
            prepare=prometheus.write_config,
        ),
        _exporter("postgres-exporter", _postgres_exporter_argv, "postgres_exporter"),
        _exporter("redis-exporter", _redis_exporter_argv, "redis_exporter"),
        _exporter("rq-exporter", _rq_exporter_argv, "rq_exporter"),
        Service(
            name="rq-dashboard",
            stage=0,
            argv=_rq_dashboard_argv,
            ready=rq_dashboard_ready,
            address=lambda s: s.rq_dashboard_url,
            ports=lambda s: [(s.rq_dashboard_port, "FAULTYARD_RQ_DASHBOARD_PORT")],
        ),
        Service(
            name="console",
            stage=0,
            argv=_console_argv,
            ready=console_ready,
            address=lambda s: s.console_url,
            ports=lambda s: [(s.console_port, "FAULTYARD_CONSOLE_PORT")],
        ),
    ]
