"""The observability services: the exporters, Prometheus, Grafana, Jaeger and the RQ dashboard."""

from __future__ import annotations

from typing import Any

from chaos.compose import images
from chaos.compose.render.context import (
    ALL_INTERFACES,
    CHECK_EVERY,
    RenderContext,
    healthy,
    python_check,
    shop_build,
    wget,
)
from chaos.compose.topology import JAEGER_ADMIN_PORT, STATE_DIR
from chaos.monitoring import prometheus

# Paths inside the containers.
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
ALERT_RULES = "/etc/prometheus/alerts.yml"
POSTGRES_QUERIES = "/etc/postgres-exporter/queries.yml"


def exporter_service(ctx: RenderContext) -> dict[str, Any]:
    """Return Faultyard's own exporter, reading PostgreSQL and Redis directly."""
    port = ctx.port("exporter_port")
    return {
        "image": images.SHOP,
        "build": shop_build(),
        # Straight to PostgreSQL and Redis: a network fault must not blind the monitoring.
        "command": [
            "python",
            "-m",
            "chaos.compose.exporter",
            "--port",
            str(port),
            "--state-dir",
            STATE_DIR,
            "--database-url",
            ctx.direct_database_url(),
            "--redis-url",
            ctx.direct_redis_url(),
            "--toxiproxy-url",
            f"http://{ctx.topology.address('toxiproxy_port')}",
        ],
        "volumes": [f"faultyard-state:{STATE_DIR}:ro"],
        "ports": ctx.publish("exporter"),
        "depends_on": {
            "init": {"condition": "service_completed_successfully"},
            **healthy("proxy", "redis"),
        },
        "healthcheck": {
            "test": [
                "CMD",
                *python_check(
                    "http",
                    f"http://127.0.0.1:{port}/metrics",
                    "--contains",
                    "faultyard_faults_active",
                ),
            ],
            **CHECK_EVERY,
        },
        "restart": "unless-stopped",
    }


def postgres_exporter_service(ctx: RenderContext) -> dict[str, Any]:
    """Return the PostgreSQL exporter with the project's extra queries."""
    port = ctx.port("postgres_exporter_port")
    return {
        "image": images.POSTGRES_EXPORTER,
        "command": [f"--web.listen-address=:{port}", f"--extend.query-path={POSTGRES_QUERIES}"],
        "environment": {
            # The maintenance database, as natively: every view it reads is cluster-wide.
            "DATA_SOURCE_NAME": (
                f"postgresql://{ctx.native.pg_user}@{ctx.topology.address('pg_port')}/postgres"
                "?sslmode=disable&application_name=postgres_exporter"
            )
        },
        "volumes": [f"../dashboards/prometheus/postgres-queries.yml:{POSTGRES_QUERIES}:ro"],
        "ports": ctx.publish("postgres-exporter"),
        "depends_on": healthy("postgres"),
        "healthcheck": wget(port, "/metrics"),
    }


def redis_exporter_service(ctx: RenderContext) -> dict[str, Any]:
    """Return the Redis exporter."""
    port = ctx.port("redis_exporter_port")
    return {
        "image": images.REDIS_EXPORTER,
        "command": [f"--redis.addr={ctx.direct_redis_url()}", f"--web.listen-address=:{port}"],
        "ports": ctx.publish("redis-exporter"),
        "depends_on": healthy("redis"),
        "healthcheck": wget(port, "/metrics"),
    }


def rq_exporter_service(ctx: RenderContext) -> dict[str, Any]:
    """Return the RQ exporter, built in an image of its own (it needs redis<6)."""
    port = ctx.port("rq_exporter_port")
    return {
        "image": images.RQ_EXPORTER,
        "build": shop_build("rq-exporter"),
        "command": [
            "rq-exporter",
            "--host",
            ALL_INTERFACES,
            "--port",
            str(port),
            "--redis-url",
            ctx.direct_redis_url(),
        ],
        "ports": ctx.publish("rq-exporter"),
        "depends_on": healthy("redis"),
        "healthcheck": {
            "test": [
                "CMD",
                "python",
                "-c",
                "import urllib.request; urllib.request.urlopen("
                f"'http://127.0.0.1:{port}/metrics', timeout=3)",
            ],
            **CHECK_EVERY,
        },
    }


def rq_dashboard_service(ctx: RenderContext) -> dict[str, Any]:
    """Return the RQ dashboard: the queues in a browser."""
    port = ctx.port("rq_dashboard_port")
    return {
        "image": images.SHOP,
        "build": shop_build(),
        "command": [
            "rq-dashboard",
            "--bind",
            ALL_INTERFACES,
            "--port",
            str(port),
            "--redis-url",
            ctx.direct_redis_url(),
        ],
        "ports": ctx.publish("rq-dashboard"),
        "depends_on": healthy("redis"),
        "healthcheck": {
            "test": ["CMD", *python_check("http", f"http://127.0.0.1:{port}/")],
            **CHECK_EVERY,
        },
    }


def prometheus_service(ctx: RenderContext) -> dict[str, Any]:
    """Return Prometheus, reading compose/prometheus.yml and the project's alert rules."""
    port = ctx.port("prometheus_port")
    return {
        "image": images.PROMETHEUS,
        "command": [
            f"--config.file={PROMETHEUS_CONFIG}",
            "--storage.tsdb.path=/prometheus",
            f"--storage.tsdb.retention.time={prometheus.RETENTION}",
            f"--web.listen-address=:{port}",
        ],
        "volumes": [
            f"./prometheus.yml:{PROMETHEUS_CONFIG}:ro",
            f"../dashboards/prometheus/alerts.yml:{ALERT_RULES}:ro",
            "prometheus-data:/prometheus",
        ],
        "ports": ctx.publish("prometheus"),
        "healthcheck": wget(port, "/-/ready"),
    }


def grafana_service(ctx: RenderContext) -> dict[str, Any]:
    """Return Grafana, provisioned with the project's dashboards, read-only for anyone."""
    return {
        "image": images.GRAFANA,
        "environment": {
            # Anyone who can reach 127.0.0.1 reads the dashboards; nobody edits them.
            "GF_AUTH_ANONYMOUS_ENABLED": "true",
            "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH": "/var/lib/grafana/dashboards/overview.json",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
        },
        # Paths the provisioning files in dashboards/grafana/provisioning expect.
        "volumes": [
            "../dashboards/grafana/provisioning:/etc/grafana/provisioning:ro",
            "../dashboards/grafana/dashboards:/var/lib/grafana/dashboards:ro",
        ],
        "ports": ctx.publish("grafana"),
        "depends_on": healthy("prometheus"),
        "healthcheck": wget(ctx.port("grafana_port"), "/api/health"),
    }


def jaeger_service(ctx: RenderContext) -> dict[str, Any]:
    """Return Jaeger (all-in-one), receiving the shop's traces over OTLP."""
    return {
        "image": images.JAEGER,
        "environment": {"COLLECTOR_OTLP_ENABLED": "true"},
        "ports": ctx.publish("jaeger"),
        "healthcheck": wget(JAEGER_ADMIN_PORT, "/"),
    }


def observability_services(ctx: RenderContext) -> dict[str, Any]:
    """Return the observability services by name, in the compose file's order."""
    return {
        "exporter": exporter_service(ctx),
        "postgres-exporter": postgres_exporter_service(ctx),
        "redis-exporter": redis_exporter_service(ctx),
        "rq-exporter": rq_exporter_service(ctx),
        "rq-dashboard": rq_dashboard_service(ctx),
        "prometheus": prometheus_service(ctx),
        "grafana": grafana_service(ctx),
        "jaeger": jaeger_service(ctx),
    }
