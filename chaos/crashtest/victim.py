"""A scenario run that kills itself with SIGKILL at a chosen moment: one point of the crash test.

    python -m chaos.crashtest.victim MOMENT DELAY_S STAMP_FILE -- scenario NAME [OPTIONS]

MOMENT is a phase of the run (preflight ... report), `load-start` (Locust's
process is being started), `inject` (its first fault applied) or `rollback`
(its first fault reverted): with a short DELAY_S, between two faults. DELAY_S
seconds after the moment comes, this process sends itself SIGKILL: no handler
runs, nothing is rolled back, as after `kill -9`, the OOM killer or a machine
that is gone. Just before, STAMP_FILE
gets, as JSON, the phase the run was in and the faults it had applied and not
reverted yet. A run that ends before the moment comes (or before the delay is
over) exits as it would have, and writes no stamp.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from chaos.cli import main
from chaos.scenarios import events

#: Moments that are not the start of a phase: Locust's process being started, inject once its
#: first fault is on and rollback once its first fault is off (each takes milliseconds: from
#: the phase's start, a kill would come before the first fault or after the last).
LOAD_START = "load-start"
HOOKS = {
    LOAD_START: events.load_starting,
    "inject": events.fault_injected,
    "rollback": events.fault_reverted,
}


class Tracker:
    """What the run is doing: its phase and the faults it has on, from the run's events."""

    def __init__(self) -> None:
        self.phase = "starting"
        self.faults_on: list[str] = []
        self.lock = threading.Lock()

    def listen(self) -> None:
        """Follow the run's events."""
        events.phase_started.add_listener(self._phase)
        events.fault_injected.add_listener(self._injected)
        events.fault_reverted.add_listener(self._reverted)

    def _phase(self, name: str, **_: Any) -> None:
        with self.lock:
            self.phase = name

    def _injected(self, description: str, **_: Any) -> None:
        with self.lock:
            self.faults_on.append(description)

    def _reverted(self, description: str, **_: Any) -> None:
        with self.lock:
            if description in self.faults_on:
                self.faults_on.remove(description)


def kill_self(stamp: Path, tracker: Tracker, moment: str, delay_s: float) -> None:
    """Write the stamp, then SIGKILL this process (the lock is held: no event may slip between)."""
    tracker.lock.acquire()
    record = {
        "moment": moment,
        "delay_s": delay_s,
        "phase": tracker.phase,
        "faults_on": list(tracker.faults_on),
        "at": time.time(),
        "pid": os.getpid(),
    }
    stamp.write_text(json.dumps(record) + "\n")
    os.kill(os.getpid(), signal.SIGKILL)


def arm(moment: str, delay_s: float, stamp: Path) -> None:
    """Kill this process `delay_s` after `moment` comes."""
    tracker = Tracker()
    tracker.listen()

    def fire(**event: Any) -> None:
        if hook is events.phase_started and event.get("name") != moment:
            return
        hook.remove_listener(fire)
        if delay_s <= 0:
            kill_self(stamp, tracker, moment, delay_s)
        timer = threading.Timer(delay_s, kill_self, (stamp, tracker, moment, delay_s))
        timer.daemon = True
        timer.start()

    hook = HOOKS.get(moment, events.phase_started)
    hook.add_listener(fire)


if __name__ == "__main__":
    moment, delay, stamp_file, separator, *args = sys.argv[1:]
    if separator != "--":
        sys.exit("usage: python -m chaos.crashtest.victim MOMENT DELAY_S STAMP_FILE -- ARGS...")
    arm(moment, float(delay), Path(stamp_file))
    sys.argv = ["faultyard", *args]
    main()
