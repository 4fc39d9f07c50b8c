"""Multiprocess metric values that add up in memory and reach their file a few times a second.

In multiprocess mode prometheus_client writes every increment through to the
process's metrics file: a lock, a `getpid()` (fork check) and a packed mmap
write per value, about eight Python calls. A catalog request makes about eight
such increments (its counter, two histograms, and each statement's histogram),
some sixty calls of the ~330 that instrumentation adds to a request. Here an
increment adds to a float and queues the value once; `flush()` writes what
piled up, one write per value that changed.

`flush()` runs every FLUSH_INTERVAL_S (a thread, a greenlet under gevent),
before this process renders /metrics, and when the process exits. A scrape
of another process's samples can therefore lag by up to FLUSH_INTERVAL_S,
as the sampled gauges (target_app.instrumentation.sampled_gauges) do. A process killed with
SIGKILL loses at most its last interval's increments.

The shop's gunicorn workers install it (target_app.wsgi), where increments
come at request rate. The RQ workers, the relay and the scheduler write
through: they count a few values a job or a pass, and a job's metrics are
exact the moment it ends. Buffering needs the values updated from one OS
thread, so it installs only where gevent has patched threading: greenlets
never switch inside `inc` or `flush`. `set` (gauges) still writes through.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any

from gevent import monkey
from prometheus_client import values

from target_app.instrumentation import periodic

#: Four writes per 1 s scrape interval, as the sampled gauges.
FLUSH_INTERVAL_S = periodic.INTERVAL_S

_queued: list[Any] = []  # values with a pending increment, each once
_flusher_started = False


def flush() -> None:
    """Write every pending increment of this process to its metrics file."""
    while _queued:
        value = _queued.pop()
        value._queued = False
        pending, value._pending = value._pending, 0.0
        if pending:
            value._write_increment(pending)


def install() -> bool:
    """Make metrics created from now on buffer their increments; return whether they will.

    Only in multiprocess mode (PROMETHEUS_MULTIPROC_DIR set; in-process values
    are plain floats already) and under gevent's patched threads.
    """
    if "target_app.instrumentation.metrics" in sys.modules:
        raise RuntimeError(
            "install buffered values before target_app.instrumentation.metrics makes its metrics"
        )
    base = values.ValueClass
    if not getattr(base, "_multiprocess", False) or not monkey.is_module_patched("threading"):
        return False
    if getattr(base, "_buffered", False):
        return True

    class BufferedValue(base):  # type: ignore[misc, valid-type]
        _buffered = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pending = 0.0
            self._queued = False

        def inc(self, amount: float) -> None:
            self._pending += amount
            if not self._queued:
                self._queued = True
                _queued.append(self)
                if not _flusher_started:
                    _start_flusher()

        def set(self, value: float, timestamp: float | None = None) -> None:
            self._pending = 0.0  # a set replaces what was added before it
            super().set(value, timestamp)

        def get(self) -> float:
            return float(super().get()) + self._pending

        def _write_increment(self, amount: float) -> None:
            super().inc(amount)

    values.ValueClass = BufferedValue
    return True


def _start_flusher() -> None:
    global _flusher_started
    _flusher_started = True
    periodic.repeat_in_background("metric-flusher", flush)


def _forget_parent_increments() -> None:
    # A forked child must not write its parent's pending increments into its own file,
    # and has no flusher thread: it starts one at its first increment.
    global _flusher_started
    for value in _queued:
        value._queued = False
        value._pending = 0.0
    _queued.clear()
    _flusher_started = False


os.register_at_fork(after_in_child=_forget_parent_increments)
atexit.register(flush)
