"""Poll every probe once a second, each in its own thread, into the journal.

One thread per probe, so a slow probe (an HTTP check waiting out a pool
timeout) never delays the others; each thread has its own Prober (its own SQL
connection and HTTP session). Each reading is tagged with the phase it was
taken in, and every reading is passed to `on_reading` with the one before it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chaos.scenarios.journal import Journal, ProbeLog, Reading
from chaos.scenarios.model import Probe
from chaos.scenarios.probes import Prober
from chaos.settings import StackSettings

POLL_S = 1.0

OnReading = Callable[[ProbeLog, Reading, Reading | None], None]


class ProbeMonitor:
    """Polls probes in the background; the runner moves it from phase to phase."""

    def __init__(
        self,
        settings: StackSettings,
        journal: Journal,
        probes: list[tuple[ProbeLog, Probe]],
        *,
        poll_s: float = POLL_S,
        on_reading: OnReading = lambda _log, _reading, _previous: None,
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.probes = probes
        self.poll_s = poll_s
        self.on_reading = on_reading
        self.phase = "baseline"
        self._lock = journal.lock
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start polling."""
        for log, probe in self.probes:
            thread = threading.Thread(
                target=self._poll, args=(log, probe), name=f"probe-{log.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def enter(self, phase: str) -> None:
        """Tag the readings from now on with `phase`."""
        with self._lock:
            self.phase = phase

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop polling; a probe stuck in a query is left to finish on its own (daemon thread)."""
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def latest(self, log: ProbeLog, *, since: float) -> Reading | None:
        """Return the probe's last reading taken at or after `since`."""
        with self._lock:
            last = log.readings[-1] if log.readings else None
        return last if last is not None and last.at >= since else None

    def all_hold(self, logs: list[ProbeLog], *, since: float) -> bool:
        """Return whether every probe's last reading since `since` holds."""
        latest = [self.latest(log, since=since) for log in logs]
        return all(r is not None and r.holds for r in latest)

    def none_hold(self, logs: list[ProbeLog], *, since: float) -> bool:
        """Return whether every probe's last reading since `since` was taken and does not hold.

        A query that answers no data (no such series yet) shows nothing: that counts.
        """
        latest = [self.latest(log, since=since) for log in logs]
        return all(r is not None and not r.holds and (r.error is None or r.no_data) for r in latest)

    def _poll(self, log: ProbeLog, probe: Probe) -> None:
        prober = Prober(self.settings)
        try:
            next_at = time.monotonic()
            while not self._stop.is_set():
                with self._lock:
                    phase = self.phase
                result = prober.evaluate(probe)
                reading = Reading(
                    at=result.at,
                    phase=phase,
                    value=result.value,
                    holds=result.holds,
                    error=result.error,
                    detail=result.detail,
                    no_data=result.no_data,
                )
                with self._lock:
                    previous = log.readings[-1] if log.readings else None
                    log.readings.append(reading)
                self.on_reading(log, reading, previous)
                next_at = max(next_at + self.poll_s, time.monotonic())
                self._stop.wait(next_at - time.monotonic())
        finally:
            prober.close()
