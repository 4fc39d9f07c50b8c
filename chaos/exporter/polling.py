"""Read slow sources in the background, so a scrape never waits on PostgreSQL, Redis or Toxiproxy.

Each source has a Poller: a daemon thread that calls `fetch` every interval
and keeps the last good value. A scrape only looks at what the thread last
read: a source that hangs (a paused PostgreSQL) or fails is reported down by
`faultyard_source_up{source}`, and its values are dropped once they are older
than `max_age_s`, instead of the scrape hanging or failing.
`faultyard_source_read_timestamp_seconds{source}` says when the read behind the
values began: a reader that must know the exporter has seen a moment (the end of
a scenario run) waits until a read began after it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

T = TypeVar("T")

log = logging.getLogger("chaos.exporter")


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    """What a scrape sees of a source: its last good value (if recent) and whether it is up."""

    value: T | None
    up: bool
    #: When the read that produced the value began (Unix time; None before the first one).
    read_at: float | None = None


class Poller(Generic[T]):
    """Call `fetch` every `interval_s` in a daemon thread and keep the latest good value.

    `fetch` raises when its source is unreachable; the poller then reports the
    source down and keeps serving the previous value until it is `max_age_s` old.
    A read still running after `hung_after_s` (past its own timeouts) also means down.
    """

    def __init__(
        self,
        name: str,
        fetch: Callable[[], T],
        *,
        interval_s: float,
        max_age_s: float,
        hung_after_s: float,
    ) -> None:
        self.name = name
        self.interval_s = interval_s
        self.max_age_s = max_age_s
        self.hung_after_s = hung_after_s
        self._fetch = fetch
        self._lock = threading.Lock()
        self._value: T | None = None
        self._value_at = float("-inf")
        self._value_read_at: float | None = None  # the same moment, Unix time
        self._ok = False
        self._said_down = False  # log a failure once, not at every read
        self._attempt_at = float("-inf")
        self._reading_since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poll-{name}", daemon=True)

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop after its current read (it is a daemon: never joined)."""
        self._stop.set()

    def poll_once(self) -> bool:
        """Read the source once now; return whether it answered."""
        started, started_unix = time.monotonic(), time.time()
        with self._lock:
            self._reading_since = started
        try:
            value = self._fetch()
        except Exception as exc:
            with self._lock:
                self._ok, self._attempt_at = False, time.monotonic()
                self._reading_since = None
            if not self._said_down:
                self._said_down = True
                log.warning("%s: read failed: %s", self.name, str(exc).strip() or type(exc))
            return False
        if self._said_down:
            self._said_down = False
            log.info("%s: read ok again", self.name)
        with self._lock:
            self._value, self._value_at, self._value_read_at = value, started, started_unix
            self._ok, self._attempt_at = True, time.monotonic()
            self._reading_since = None
        return True

    def snapshot(self) -> Snapshot[T]:
        """Return the last good value unless it is too old, and whether the source is up."""
        now = time.monotonic()
        with self._lock:
            fresh = now - self._value_at <= self.max_age_s
            # A read that does not return (a paused server) counts as down.
            hung = self._reading_since is not None and now - self._reading_since > self.hung_after_s
            up = self._ok and not hung and now - self._attempt_at <= self.max_age_s
            return Snapshot(self._value if fresh else None, up, self._value_read_at)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.poll_once()
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))


class SourceCollector(Collector):
    """Export, per source, whether it answers the exporter's reads and when its last read began.

    `faultyard_source_up{source}`: 1 while it answers; `faultyard_source_read_timestamp_seconds`
    (once a read succeeded): when the read behind the values served began.
    """

    def __init__(self, sources: dict[str, Callable[[], Snapshot[object]]]) -> None:
        self.sources = sources

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield one sample per source of each family."""
        up = GaugeMetricFamily(
            "faultyard_source_up",
            "1 if the faultyard exporter's last read of this source succeeded recently, else 0.",
            labels=["source"],
        )
        read_at = GaugeMetricFamily(
            "faultyard_source_read_timestamp_seconds",
            "When the read behind this source's values began (Unix time).",
            labels=["source"],
        )
        for name, snapshot in sorted(self.sources.items()):
            seen = snapshot()
            up.add_metric([name], 1.0 if seen.up else 0.0)
            if seen.read_at is not None:
                read_at.add_metric([name], seen.read_at)
        yield up
        yield read_at
