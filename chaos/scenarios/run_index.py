"""The stack's list of scenario runs: where each run's journal is, wherever its reports went.

A run writes its journal into its own report folder (`--report-dir`, relative to
the terminal it was started from); the console, which runs elsewhere, finds the
runs of its stack here: one JSON line per run in the state folder's `runs.jsonl`,
appended when the run starts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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

    def load_journal(self) -> dict[str, Any] | None:
        """Return the journal as the run last saved it (None if it is gone or unreadable)."""
        try:
            data: dict[str, Any] = json.loads(Path(self.journal).read_text())
        except (OSError, ValueError):
            return None
        return data


def runs_file(settings: StackSettings) -> Path:
    """Return the index file of the stack's runs."""
    return settings.state_path / RUNS_FILE


def record_run(settings: StackSettings, entry: RunEntry) -> None:
    """Append a run to the index (one short write: concurrent runs do not mix lines)."""
    path = runs_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as index:
        index.write(json.dumps(asdict(entry)) + "\n")


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
