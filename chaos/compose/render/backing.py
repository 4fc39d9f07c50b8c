"""The backing services: PostgreSQL, Redis, and the Toxiproxy proxy in front of them."""

from __future__ import annotations

from typing import Any

from chaos.compose import images
from chaos.compose.render.context import ALL_INTERFACES, CHECK_EVERY, RenderContext
from chaos.stack import postgres

# Path inside the proxy's container.
TOXIPROXY_CONFIG = "/config/toxiproxy.json"


def postgres_options(ctx: RenderContext) -> list[str]:
    """Return the native PostgreSQL server's -c options, but where it listens."""
    argv = postgres.server_argv(ctx.native)
    options = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-c"]
    # The image listens on every interface and keeps its socket for its init scripts.
    kept = [
        o for o in options if o.split("=")[0] not in ("listen_addresses", "unix_socket_directories")
    ]
    return [part for option in kept for part in ("-c", option)]


def postgres_service(ctx: RenderContext) -> dict[str, Any]:
    """Return the PostgreSQL service: the native server's options, trust auth as natively."""
    return {
        "image": images.POSTGRES,
        "command": ["postgres", *postgres_options(ctx)],
        "environment": {
            "POSTGRES_USER": ctx.native.pg_user,
            "POSTGRES_DB": ctx.native.pg_database,
            # As the native cluster (initdb --auth=trust): reachable from 127.0.0.1 only.
            "POSTGRES_HOST_AUTH_METHOD": "trust",
            "POSTGRES_INITDB_ARGS": "--encoding=UTF8 --locale=C",
        },
        "volumes": ["postgres-data:/var/lib/postgresql/data"],
        "ports": ctx.publish("postgres"),
        "healthcheck": {
            # Over TCP: the image's init-time server listens on its socket only.
            "test": [
                "CMD",
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                ctx.native.pg_user,
                "-d",
                ctx.native.pg_database,
                "-tAc",
                "SELECT 1",
            ],
            **CHECK_EVERY,
        },
        "stop_signal": ctx.stop_signal("postgres"),
    }


def redis_service(ctx: RenderContext) -> dict[str, Any]:
    """Return the Redis service: no persistence, as natively."""
    return {
        "image": images.REDIS,
        "command": ["redis-server", "--save", "", "--appendonly", "no"],
        "ports": ctx.publish("redis"),
        "healthcheck": {"test": ["CMD", "redis-cli", "ping"], **CHECK_EVERY},
    }


def proxy_service(ctx: RenderContext) -> dict[str, Any]:
    """Return the Toxiproxy service, populated from compose/toxiproxy.json."""
    api_port = ctx.port("toxiproxy_port")
    return {
        "image": images.TOXIPROXY,
        "command": [
            f"-host={ALL_INTERFACES}",
            f"-port={api_port}",
            f"-config={TOXIPROXY_CONFIG}",
            "-proxy-metrics",
            "-runtime-metrics",
        ],
        "volumes": [f"./toxiproxy.json:{TOXIPROXY_CONFIG}:ro"],
        "ports": ctx.publish("proxy"),
        "healthcheck": {
            "test": ["CMD", "/toxiproxy-cli", "--host", f"http://127.0.0.1:{api_port}", "list"],
            **CHECK_EVERY,
        },
    }


def backing_services(ctx: RenderContext) -> dict[str, Any]:
    """Return the backing services by name, in the compose file's order."""
    return {
        "postgres": postgres_service(ctx),
        "redis": redis_service(ctx),
        "proxy": proxy_service(ctx),
    }
