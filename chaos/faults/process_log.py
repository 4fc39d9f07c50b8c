"""The process faults on now, in STATE/process-faults.json: who was paused, killed or terminated.

Every process fault (the CLI's `kill`, `pause`, `term`, and a scenario's
process step) writes one entry; the exporter reads the file at each scrape to
shade the fault on the dashboards, `faultyard status` lists it, and `faultyard
reset` or the next run's preflight undo what it names. An entry says for itself
whether its fault is still on (`is_on`), from /proc and the stack's pid files:

- pause: on while the paused process lives and is stopped;
- kill or term of a service: on until the service runs again (a new process in its
  pid file), or while the terminated process is still shutting down;
- kill or term of one gunicorn worker (`app:worker`): on while that worker lives
  (gunicorn starts its replacement by itself).

Entries no longer on are dropped at the next write and ignored by every reader.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from chaos.stack import process

LOG_FILE = "process-faults.json"
LOCK_FILE = ".process-faults.lock"
ACTIONS = ("kill", "pause", "term")


@dataclass(frozen=True)
class ProcessFaultEntry:
    """One process fault: the target as asked, the process signalled, and when."""

    target: str
    service: str
    action: str
    pid: int
    start_ticks: int
    at: float
    #: When a time-boxed fault is undone by itself (epoch seconds), None if it waits for a reset.
    until: float | None = None
    #: Whether the pid is one gunicorn worker (`app:worker`), not the service's own process.
    member: bool = False

    def process(self) -> process.ProcessRecord:
        """Return the signalled process as a record (its identity: pid and start time)."""
        return process.ProcessRecord(self.pid, self.start_ticks, self.at, [])

    def is_on(self, state_path: Path) -> bool:
        """Return whether the fault still holds: see the module's docstring."""
        alive = process.is_alive(self.process())
        if self.action == "pause":
            return alive and process.run_state(self.pid) == "T"
        if self.member or alive:
            return alive
        current = process.read_pid_file(state_path / "run" / f"{self.service}.pid")
        return current is None or not process.is_alive(current)

    def describe(self) -> str:
        """Return one line for `faultyard status` and reset."""
        left = f", undone in {max(0.0, self.until - time.time()):.0f}s" if self.until else ""
        return f"{self.action} {self.target} (pid {self.pid}, {_ago(self.at)} ago{left})"


def _ago(at: float) -> str:
    seconds = max(0, int(time.time() - at))
    return f"{seconds}s" if seconds < 120 else f"{seconds // 60}m"


def _read(state_path: Path) -> list[ProcessFaultEntry]:
    try:
        data = json.loads((state_path / LOG_FILE).read_text())
    except (OSError, ValueError):
        return []
    entries = []
    for item in data if isinstance(data, list) else []:
        with contextlib.suppress(TypeError, ValueError):
            entries.append(ProcessFaultEntry(**item))
    return entries


def faults_on(state_path: Path) -> list[ProcessFaultEntry]:
    """Return the process faults still on, oldest first."""
    return [e for e in _read(state_path) if e.is_on(state_path)]


@contextlib.contextmanager
def _locked(state_path: Path) -> Iterator[None]:
    state_path.mkdir(parents=True, exist_ok=True)
    with open(state_path / LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _write(state_path: Path, entries: list[ProcessFaultEntry]) -> None:
    path = state_path / LOG_FILE
    if not entries:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps([asdict(e) for e in entries], indent=2) + "\n")
    os.replace(tmp, path)


def record(state_path: Path, entry: ProcessFaultEntry) -> None:
    """Add a fault (after its signal went out), dropping entries no longer on."""
    with _locked(state_path):
        kept = [e for e in _read(state_path) if e.is_on(state_path) and e != entry]
        _write(state_path, [*kept, entry])


def forget(state_path: Path, *, service: str | None = None, pid: int | None = None) -> None:
    """Drop the entries of a service (or of one pid; every entry if neither is given)."""
    with _locked(state_path):
        kept = [
            e
            for e in _read(state_path)
            if e.is_on(state_path)
            and not (service is None and pid is None)
            and (service is None or e.service != service)
            and (pid is None or e.pid != pid)
        ]
        _write(state_path, kept)
