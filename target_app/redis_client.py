"""The Redis client every shop process uses: short timeouts, so an outage fails fast."""

from __future__ import annotations

from redis import Redis

from target_app.config import ShopSettings

CONNECT_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 2.0


def make_redis(settings: ShopSettings, *, read_timeout_s: float | None = READ_TIMEOUT_S) -> Redis:
    """Return a client for the shop's Redis (through Toxiproxy when the stack runs one)."""
    return Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=read_timeout_s,
        health_check_interval=30,
    )
