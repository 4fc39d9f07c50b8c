"""How long other greenlets wait while a request runs: the measure of a blocked hub."""

from __future__ import annotations

import time
from collections.abc import Callable

import gevent

TICK_S = 0.005


def longest_pause_of_others(serve: Callable[[], object]) -> tuple[float, float]:
    """Run `serve` while another greenlet ticks every TICK_S.

    Return the longest the ticking greenlet waited for a turn and how long `serve`
    took, both in seconds.
    """
    gaps: list[float] = []

    def tick() -> None:
        last = time.perf_counter()
        while True:
            gevent.sleep(TICK_S)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = gevent.spawn(tick)
    gevent.sleep(TICK_S * 2)
    started = time.perf_counter()
    serve()
    took = time.perf_counter() - started
    ticker.kill()
    return max(gaps), took
