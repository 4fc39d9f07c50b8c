"""Where the rate limits count: Redis, or each process's memory while Redis is unreachable.

A `limits` storage (registered for the `faultyard+redis://` scheme) in front of
Redis. When a Redis call fails, it fails open: the limits are counted in this
process's memory for RETRY_S, then Redis is tried again, and every check counted
in memory shows in `shop_rate_limit_checks_total{storage="memory"}` (alert
RateLimiterDegraded). With the `rate_limiter_fails_closed` bug switched on, a
Redis error propagates: the limited request answers 500.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import current_app, has_app_context
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.storage.base import MovingWindowSupport

from target_app.instrumentation.account_metrics import RATE_LIMIT_CHECKS

log = logging.getLogger(__name__)

SCHEME = "faultyard+"
SWITCH = "rate_limiter_fails_closed"
#: While Redis is unreachable, it is tried again this often (each try may wait for its
#: connect timeout); the checks in between are counted in memory.
RETRY_S = 2.0


def _fails_closed() -> bool:
    return has_app_context() and bool(current_app.extensions["switches"].is_on(SWITCH))


class FailOpenRedisStorage(Storage, MovingWindowSupport):
    """Redis for the limits, and this process's memory while Redis cannot answer."""

    STORAGE_SCHEME = ["faultyard+redis"]  # noqa: RUF012 (limits' own attribute)

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._redis = RedisStorage(uri.removeprefix(SCHEME), **options)
        self._memory = MemoryStorage()
        self._redis_again_at = 0.0
        self._lock = threading.Lock()

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return ()  # Redis's errors are handled below, never wrapped

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        closed = _fails_closed()
        if closed or time.monotonic() >= self._redis_again_at:
            try:
                answer = getattr(self._redis, method)(*args, **kwargs)
            except self._redis.base_exceptions as exc:
                if closed:
                    # BUG: the limiter's storage error becomes the request's error (a 500).
                    raise
                # FIX: fail open, counting in memory until Redis answers again.
                with self._lock:
                    first = self._redis_again_at <= time.monotonic()
                    self._redis_again_at = time.monotonic() + RETRY_S
                if first:
                    log.warning(
                        "rate limit storage unreachable: counting in memory",
                        extra={"error": f"{type(exc).__name__}: {exc}", "retry_s": RETRY_S},
                    )
            else:
                RATE_LIMIT_CHECKS.labels("redis").inc()
                return answer
        RATE_LIMIT_CHECKS.labels("memory").inc()
        return getattr(self._memory, method)(*args, **kwargs)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return int(self._call("incr", key, expiry, amount=amount))

    def get(self, key: str) -> int:
        return int(self._call("get", key))

    def get_expiry(self, key: str) -> float:
        return float(self._call("get_expiry", key))

    def check(self) -> bool:
        return bool(self._redis.check())

    def reset(self) -> int | None:
        self._memory.reset()
        return self._redis.reset()  # type: ignore[no-any-return]

    def clear(self, key: str) -> None:
        self._memory.clear(key)
        self._redis.clear(key)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return bool(self._call("acquire_entry", key, limit, expiry, amount=amount))

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        return self._call("get_moving_window", key, limit, expiry)  # type: ignore[no-any-return]
