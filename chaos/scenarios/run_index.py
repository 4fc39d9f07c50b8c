"""The stack's list of scenario runs: where each run's journal is, wherever its reports went.

A run writes its journal into its own report folder (`--report-dir`, relative to
the terminal it was started from); the console, which runs elsewhere, finds the
runs of its stack here: one JSON line per run in the state folder's `runs.jsonl`,
appended when the run starts.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from chaos.errors import FaultyardError
from chaos.settings import StackSettings

RUNS_FILE = "runs.jsonl"
#: The runs the index keeps listing (older lines stay in the file).
RECENT_RUNS = 200


@dataclass(frozen=True)
class RunEntry:
    """One run: its id (the report folder's name), scenario, mode, start and journal."""

    id: str
    scenario: str
    mode: str
    started_at: float
    journal: str
    pid: int
    #: When the run's process started (psutil's create_time): a reused pid is not the run.
    pid_started: float | None = None

    @property
    def folder(self) -> Path:
        """Return the run's report folder (the journal's: absolute, wherever the run began)."""
        return Path(self.journal).parent

    def process_alive(self) -> bool:
        """Return whether the run's own process still runs (not a zombie, not a reused pid)."""
        try:
            process = psutil.Process(self.pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return False
            return self.pid_started is None or abs(process.create_time() - self.pid_started) < 1
        except psutil.Error:
            return False

    def load_journal(self) -> dict[str, Any] | None:
        """Return the journal as the run last saved it (None if it is gone or unreadable)."""
        try:
            data: dict[str, Any] = json.loads(Path(self.journal).read_text())
        except (OSError, ValueError):
            return None
        return data


def this_process_started() -> float:
    """Return when this process started, as RunEntry.pid_started records it."""
    return float(psutil.Process(os.getpid()).create_time())


def runs_file(settings: StackSettings) -> Path:
    """Return the index file of the stack's runs."""
    return settings.state_path / RUNS_FILE


def record_run(settings: StackSettings, entry: RunEntry) -> None:
    """Append a run to the index (one short write: concurrent runs do not mix lines)."""
    path = runs_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(asdict(entry)) + "\n"
    with path.open("a+b") as index:
        if index.seek(0, os.SEEK_END) > 0:
            index.seek(-1, os.SEEK_END)
            if index.read(1) != b"\n":
                line = "\n" + line  # after a line a crash cut short: only that line is lost
        index.write(line.encode())


def recent_runs(settings: StackSettings, limit: int = RECENT_RUNS) -> list[RunEntry]:
    """Return the latest runs whose journal still exists, newest first."""
    try:
        lines = runs_file(settings).read_text().splitlines()
    except FileNotFoundError:
        return []
    found: list[RunEntry] = []
    for line in reversed(lines):
        try:
            entry = RunEntry(**json.loads(line))
        except (ValueError, TypeError):
            continue  # a line cut short by a crash
        if Path(entry.journal).is_file():
            found.append(entry)
        if len(found) >= limit:
            break
    return found


def find_run(settings: StackSettings, run_id: str) -> RunEntry | None:
    """Return the newest run with this id, None if there is none."""
    return next((run for run in recent_runs(settings) if run.id == run_id), None)


def running_run(settings: StackSettings) -> RunEntry | None:
    """Return the run in progress (its journal not ended, its process alive), None if none."""
    for entry in recent_runs(settings, limit=10):
        journal = entry.load_journal() or {}
        if journal.get("ended_at") is None and entry.process_alive():
            return entry
    return None


class RunInProgressError(FaultyardError):
    """Another run is in progress on the stack: one run (or drill) at a time."""


def refuse_if_running(settings: StackSettings, what: str) -> None:
    """Raise RunInProgressError, saying `what` cannot start, while a run is in progress.

    A run's faults go in only at its inject phase (chaos.scenarios.cleanup's active file);
    the index knows about it from its first moment.
    """
    busy = running_run(settings)
    if busy is not None:
        raise RunInProgressError(
            f"{what}: the run {busy.id} (pid {busy.pid}) is in progress; wait for it to end"
        )
