"""The shop's services: its PID holder, its bootstrap, the app, its admin gate, the queue processes."""

from __future__ import annotations

from typing import Any

from chaos.compose import images
from chaos.compose.render.context import (
    CHECK_EVERY,
    SLOW_CHECK_EVERY,
    RenderContext,
    at,
    healthy,
    python_check,
    shop_build,
)
from chaos.compose.topology import (
    ADMIN_GATE_API_PORT,
    ADMIN_GATE_PORT,
    JAEGER_OTLP_HTTP_PORT,
    SHOP_PORT,
    STATE_DIR,
)

# Paths inside the containers.
ADMIN_GATE_CONFIG = "/etc/faultyard/admin-gate.json"
TOKEN_SECRET = "/run/secrets/admin-token"
# The user the shop's image runs as (compose/Dockerfile).
SHOP_USER = "faultyard"


def shop_env() -> dict[str, str]:
    """Return what every shop process gets natively (child_env(shop=True)), for compose."""
    through = at(host="proxy")
    return {
        "FAULTYARD_STATE_DIR": STATE_DIR,
        # The shop reaches PostgreSQL and Redis only through the proxies.
        "FAULTYARD_DATABASE_URL": through.proxied_database_url,
        "FAULTYARD_REDIS_URL": through.proxied_redis_url,
        "PROMETHEUS_MULTIPROC_DIR": f"{STATE_DIR}/metrics",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://jaeger:{JAEGER_OTLP_HTTP_PORT}",
        "PYTHONUNBUFFERED": "1",
    }


def shop_process(
    ctx: RenderContext, name: str, check: list[str], *, slow: bool = False
) -> dict[str, Any]:
    """Return a service running the shop's code with the shop's environment and state."""
    return {
        "image": images.SHOP,
        "build": shop_build(),
        "command": ctx.command(name),
        "environment": shop_env(),
        "volumes": [f"faultyard-state:{STATE_DIR}"],
        # One PID namespace for every process writing metric files to the shared
        # folder: prometheus_client names those files by PID.
        "pid": "service:shop-pids",
        "depends_on": {
            "init": {"condition": "service_completed_successfully"},
            **healthy("shop-pids", "proxy", "redis"),
            "jaeger": {"condition": "service_started"},
        },
        "healthcheck": {"test": ["CMD", *check], **(SLOW_CHECK_EVERY if slow else CHECK_EVERY)},
        "stop_signal": ctx.stop_signal(name),
        "restart": "unless-stopped",
    }


def shop_pids_service() -> dict[str, Any]:
    """Return the service holding the PID namespace the shop processes share."""
    return {
        # Holds the PID namespace the shop processes share (like a pod's pause container).
        "image": images.SHOP,
        "build": shop_build(),
        "command": ["sleep", "infinity"],
        "init": True,
        "healthcheck": {"test": ["CMD", "true"], **CHECK_EVERY},
        "restart": "unless-stopped",
    }


def init_service(ctx: RenderContext) -> dict[str, Any]:
    """Return the one-off service that migrates, seeds and writes the admin token's state."""
    return {
        "image": images.SHOP,
        "build": shop_build(),
        "command": [
            "python",
            "-m",
            "chaos.compose.bootstrap",
            "--state-dir",
            STATE_DIR,
            "--database-url",
            ctx.direct_database_url(),
            "--token-file",
            TOKEN_SECRET,
            "--owner",
            SHOP_USER,
        ],
        "environment": ctx.seed_products(),
        "volumes": [f"faultyard-state:{STATE_DIR}"],
        "secrets": ["admin-token"],
        # Root reads the secret whatever its owner on the host; the files it writes
        # are then given to the shop's user.
        "user": "root",
        "depends_on": healthy("postgres"),
        "restart": "no",
    }


def app_service(ctx: RenderContext) -> dict[str, Any]:
    """Return the shop's web app (gunicorn), published through the admin gate."""
    return {
        **shop_process(ctx, "app", python_check("http", f"http://127.0.0.1:{SHOP_PORT}/readyz")),
        "ports": ctx.publish("app"),
    }


def admin_gate_service() -> dict[str, Any]:
    """Return the loopback hop in the app's network namespace in front of gunicorn."""
    return {
        # In the app's network namespace: a caller of the published app port reaches
        # gunicorn from 127.0.0.1, as natively (the admin API answers loopback only;
        # the token is still required).
        "image": images.SHOP,
        "build": shop_build(),
        "command": [
            "python",
            "-m",
            "chaos",
            "proxy",
            "--host",
            "127.0.0.1",
            "--port",
            str(ADMIN_GATE_API_PORT),
            "--config",
            ADMIN_GATE_CONFIG,
        ],
        "network_mode": "service:app",
        "volumes": [f"./admin-gate.json:{ADMIN_GATE_CONFIG}:ro"],
        "depends_on": healthy("app"),
        "healthcheck": {
            "test": ["CMD", *python_check("http", f"http://127.0.0.1:{ADMIN_GATE_PORT}/healthz")],
            **CHECK_EVERY,
        },
        "restart": "unless-stopped",
    }


def queue_services(ctx: RenderContext) -> dict[str, Any]:
    """Return the RQ workers, the scheduler and the outbox relay, each checked against Redis."""
    direct_redis = ctx.direct_redis_url()
    workers = [n for n in ctx.services if n.startswith("worker-")]
    return {
        **{
            name: shop_process(
                ctx,
                name,
                python_check("worker", ctx.command(name)[-1], "--redis-url", direct_redis),
                slow=True,
            )
            for name in workers
        },
        "scheduler": shop_process(
            ctx, "scheduler", python_check("scheduler", "--redis-url", direct_redis), slow=True
        ),
        "relay": shop_process(
            ctx, "relay", python_check("relay", "--redis-url", direct_redis), slow=True
        ),
    }


def shop_services(ctx: RenderContext) -> dict[str, Any]:
    """Return the shop's services by name, in the compose file's order."""
    return {
        "shop-pids": shop_pids_service(),
        "init": init_service(ctx),
        "app": app_service(ctx),
        "admin-gate": admin_gate_service(),
        **queue_services(ctx),
    }
