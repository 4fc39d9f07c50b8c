"""Gauges of a process's own state, published a few times a second instead of at every change.

In multiprocess mode every gauge update is a write into the process's metrics
file. Requests in flight and pool connections checked out change twice per
request; publishing them at each change cost every request six writes. A
sampler reading the live values every SAMPLE_INTERVAL_S publishes what a 1 s
scrape can see anyway: a value held for less than that interval may be missed,
as a scrape misses it. Under gevent the sampler thread is a greenlet.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from prometheus_client import Gauge

from target_app.instrumentation import periodic

#: Four samples per 1 s scrape interval.
SAMPLE_INTERVAL_S = periodic.INTERVAL_S

#: One source per gauge: a process has one app and one engine (the last one made wins,
#: so tests that build many apps do not pile up readers of engines long gone).
_sources: dict[Gauge, Callable[[], float]] = {}
_lock = threading.Lock()
_started_in: int | None = None  # the pid whose sampler runs (a forked child starts its own)


def sample(gauge: Gauge, read: Callable[[], float]) -> None:
    """Publish `read()` into `gauge` now and every SAMPLE_INTERVAL_S from now on."""
    global _started_in
    with _lock:
        _sources[gauge] = read
        gauge.set(read())
        if _started_in != os.getpid():
            _started_in = os.getpid()
            periodic.repeat_in_background("sampled-gauges", publish)


def publish() -> None:
    """Publish every sampled gauge now."""
    with _lock:
        sources = list(_sources.items())
    for gauge, read in sources:
        gauge.set(read())
