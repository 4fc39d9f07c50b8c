"""A bounded log of recent checkout failures, served at /admin/errors for debugging."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any


class RecentFailures:
    """Keep the last `size` exceptions, with their tracebacks, for post-mortem debugging.

    Keeping the exception keeps its traceback, and so every frame and local
    variable it passed through, alive: whatever those frames still hold open
    stays open. That is why checkout must close its session on every path.
    """

    def __init__(self, size: int = 100) -> None:
        self._items: deque[tuple[float, BaseException]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def record(self, exc: BaseException) -> None:
        """Remember a failure."""
        with self._lock:
            self._items.append((time.time(), exc))

    def clear(self) -> None:
        """Forget every failure."""
        with self._lock:
            self._items.clear()

    def summaries(self) -> list[dict[str, Any]]:
        """Return the failures, newest first, as JSON-ready dicts."""
        with self._lock:
            items = list(self._items)
        return [
            {"at": at, "type": type(exc).__name__, "message": str(exc)}
            for at, exc in reversed(items)
        ]
