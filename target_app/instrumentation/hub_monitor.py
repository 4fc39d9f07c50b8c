"""gevent hub blocking per process: gevent's monitor thread feeds two counters and a log line.

gevent's monitor thread looks every `max_blocking_time` at whether the running
greenlet has switched since its last look. If not, the hub is blocked (CPU work
or a call that does not yield to the hub) and it notifies `EventLoopBlocked`.
gevent would also print a multi-screen report to stderr, which is the service
log, on every look: that is turned off, and each block becomes one JSON line,
written once the block is over (with its length) or never if it never ends
(the counters then tell).

The monitor thread is a native thread: it only appends to a deque and asks
the hub, thread-safely, to call back. Metrics and logging, which take gevent
locks, run in a greenlet of the hub's own thread.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from types import FrameType
from typing import Any

import gevent
from gevent import events
from gevent.hub import Hub

from target_app.instrumentation import metrics

log = logging.getLogger(__name__)

#: Frames of the blocked stack kept in the log line, innermost first.
STACK_FRAMES = 6

_monitor: HubMonitor | None = None


@dataclass(frozen=True)
class Detection:
    """One look of the monitor thread that found the hub blocked."""

    at: float
    greenlet: str
    stack: list[str]


class HubMonitor:
    """Turn one hub's EventLoopBlocked events into metrics and one log line per block."""

    def __init__(self, hub: Hub, *, process: str, max_blocking_s: float) -> None:
        self.hub = hub
        self.process = process
        self.max_blocking_s = max_blocking_s
        self._blocks = metrics.GEVENT_HUB_BLOCKS.labels(process)
        self._blocked_seconds = metrics.GEVENT_HUB_BLOCKED_SECONDS.labels(process)
        self._detections: deque[Detection] = deque()  # appends and pops are atomic
        self._callback_pending = False
        self._last_block_ended = 0.0

    def on_event(self, event: object) -> None:
        """Record a detection (runs in gevent's monitor thread, for every gevent event)."""
        if not isinstance(event, events.EventLoopBlocked) or event.hub is not self.hub:
            return
        now = time.perf_counter()
        first = not self._callback_pending
        if first and now - self._last_block_ended < self.max_blocking_s:
            # A look taken just before the block ended, notified just after it
            # was reported: a new block cannot be seen this soon after one ends.
            return
        self._detections.append(
            Detection(
                at=now,
                greenlet=_greenlet_name(event.greenlet) if first else "",
                stack=_blocked_stack(self.hub.thread_ident) if first else [],
            )
        )
        if first:
            self._callback_pending = True
            # Runs as soon as the hub gets control back, that is when the block ends.
            self.hub.loop.run_callback_threadsafe(self._block_ended)

    def _block_ended(self) -> None:
        ended = self._last_block_ended = time.perf_counter()
        self._callback_pending = False  # before draining: a later detection schedules anew
        detections = []
        while self._detections:
            detections.append(self._detections.popleft())
        if detections:
            # In the hub itself nothing may block (a contended lock would); a greenlet may.
            gevent.spawn(self._report, detections, ended)

    def _report(self, detections: list[Detection], ended: float) -> None:
        first = detections[0]
        # The block began between one and two looks before its first detection:
        # take the middle, so the estimate is within half a look either way.
        blocked_s = ended - first.at + 1.5 * self.max_blocking_s
        self._blocks.inc()
        self._blocked_seconds.inc(blocked_s)
        log.warning(
            "gevent hub blocked",
            extra={
                "process_label": self.process,
                "blocked_ms": round(blocked_s * 1000, 1),
                "max_blocking_ms": round(self.max_blocking_s * 1000, 1),
                "greenlet": first.greenlet,
                "where": first.stack[0] if first.stack else None,
                "stack": first.stack,
            },
        )


def _greenlet_name(greenlet: Any) -> str:
    name = getattr(greenlet, "name", None)
    return str(name) if name else type(greenlet).__name__


def _blocked_stack(thread_ident: int) -> list[str]:
    frame: FrameType | None = sys._current_frames().get(thread_ident)
    stack = []
    while frame is not None and len(stack) < STACK_FRAMES:
        stack.append(
            f"{_short_path(frame.f_code.co_filename)}:{frame.f_lineno} in {frame.f_code.co_name}"
        )
        frame = frame.f_back
    return stack


def _short_path(path: str) -> str:
    _, sep, tail = path.rpartition("site-packages/")
    if sep:
        return tail
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


def start(*, process: str, max_blocking_ms: float) -> HubMonitor | None:
    """Watch this thread's hub for blocks longer than `max_blocking_ms` (0: do not watch)."""
    global _monitor
    if _monitor is not None or max_blocking_ms <= 0:
        return _monitor
    gevent.config.max_blocking_time = max_blocking_ms / 1000
    gevent.config.print_blocking_reports = False
    hub = gevent.get_hub()
    monitor = HubMonitor(hub, process=process, max_blocking_s=max_blocking_ms / 1000)
    events.subscribers.append(monitor.on_event)
    # Only this hub gets a monitor thread, not the hubs of gevent's thread pool.
    gevent.config.monitor_thread = True
    try:
        # The monitor thread stops for good if its first look finds the hub
        # greenlet not started yet: start it (it starts the thread itself).
        gevent.sleep(0)
        hub.start_periodic_monitoring_thread()
    finally:
        gevent.config.monitor_thread = False
    _monitor = monitor
    log.info(
        "gevent hub monitor started",
        extra={"process_label": process, "max_blocking_ms": max_blocking_ms},
    )
    return monitor
