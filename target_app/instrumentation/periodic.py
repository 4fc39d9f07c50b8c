"""Work a process repeats a few times a second, off the request path.

Metric increments (target_app.instrumentation.buffered_values), sampled gauges
(target_app.instrumentation.sampled_gauges) and access lines (target_app.instrumentation.log_handler) are published
in batches by a daemon thread each, a greenlet under gevent's patch. Four
times a second: what a 1 s scrape or a person reading a log can see anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

#: Four passes per 1 s scrape interval.
INTERVAL_S = 0.25


def repeat_in_background(name: str, work: Callable[[], None]) -> None:
    """Run `work` every INTERVAL_S in a daemon thread named `name`, as long as the process lives.

    `work` must handle its own errors: one that escapes ends the thread.
    """

    def run() -> None:
        stop = threading.Event()  # never set: the thread lives as long as its process
        while not stop.wait(INTERVAL_S):
            work()

    threading.Thread(target=run, name=name, daemon=True).start()
