"""A drill's state: one JSON file in the state folder, shared by the commands and the supervisor.

The drill survives the terminal that started it: `faultyard drill start` leaves
a supervisor running in its own session, and every later command (`status`,
`hint`, `answer`, `deploy-fix`, `give-up`) reads and changes this file, under
a lock. Finished drills are appended to history.jsonl beside it.

The file holds the seed and the filters, never the scenario's name: the plan
is drawn again from them when needed (chaos.drill.picker), so no file,
command or process title names the hidden fault while the drill runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from chaos.drill.picker import QUIET_DELAY_S, Difficulty, DrillPlan, pick
from chaos.errors import FaultyardError
from chaos.settings import StackSettings

DRILL_DIR = "drill"
STATE_FILE = "current.json"
HISTORY_FILE = "history.jsonl"
LOCK_FILE = ".lock"

Status = Literal["starting", "running", "ended", "gave_up", "expired", "failed"]
RUNNING: tuple[Status, ...] = ("starting", "running")
#: A drill still "starting" after this long has no supervisor.
STARTING_TIMEOUT_S = 60.0


class DrillError(FaultyardError):
    """A drill command that cannot be done now (no drill, one already running, ...)."""


class DrillEvent(BaseModel):
    """One thing that happened in the drill, for the debrief's timeline."""

    at: float
    what: str


class DrillState(BaseModel):
    """Everything a drill remembers between its commands and its supervisor."""

    id: str
    seed: int
    difficulty: Difficulty | None = None
    scenario_from: list[str] | None = None
    started_at: float
    #: The range the quiet time before the page is drawn from (seconds).
    quiet_delay_s: tuple[float, float] = QUIET_DELAY_S
    status: Status = "starting"
    supervisor_pid: int | None = None
    #: When the fault went in (or, for a control, when it would have): the clock of the grade.
    injected_at: float | None = None
    hints_used: int = 0
    #: The answers so far, as chaos.drill.grading.AnswerSheet fields.
    answers: dict[str, Any] = Field(default_factory=dict)
    answered_at: dict[str, float] = Field(default_factory=dict)
    fix_requested_at: float | None = None
    fix_deployed_at: float | None = None
    #: Remedies the person applied (`setting:NAME`, `reload:SERVICE`, `deploy-fix`) and when.
    remedies_tried: list[tuple[str, float]] = Field(default_factory=list)
    mitigated_at: float | None = None
    ended_at: float | None = None
    grade: dict[str, Any] | None = None
    report_dir: str | None = None
    error: str | None = None
    events: list[DrillEvent] = Field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.status in RUNNING

    def plan(self) -> DrillPlan:
        """Return the drill's plan, drawn again from its seed and filters."""
        from chaos.scenarios.catalogue import (
            load_catalogue,
        )  # only when needed: every command imports this module

        return pick(
            load_catalogue(),
            seed=self.seed,
            difficulty=self.difficulty,
            scenario_from=self.scenario_from,
            quiet_delay_s=self.quiet_delay_s,
        )

    def note(self, what: str) -> None:
        """Add an event to the timeline, now."""
        self.events.append(DrillEvent(at=time.time(), what=what))

    def elapsed_s(self, now: float | None = None) -> float:
        """Return seconds since the drill started (until it ended)."""
        end = self.ended_at or now or time.time()
        return round(end - self.started_at, 1)


def drill_dir(settings: StackSettings) -> Path:
    return settings.state_path / DRILL_DIR


def load_current(settings: StackSettings) -> DrillState | None:
    """Return the current (or last) drill, None if there was none."""
    try:
        return DrillState.model_validate_json((drill_dir(settings) / STATE_FILE).read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise DrillError(
            f"unreadable drill state {drill_dir(settings) / STATE_FILE}: {exc}"
        ) from None


def save(settings: StackSettings, state: DrillState) -> None:
    """Write the state atomically (a reader never sees half of it)."""
    folder = drill_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{STATE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(state.model_dump_json(indent=2) + "\n")
    os.replace(tmp, folder / STATE_FILE)


@contextmanager
def locked(settings: StackSettings) -> Iterator[None]:
    """Hold the drill's lock: one reader-writer of the state at a time."""
    folder = drill_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def update(settings: StackSettings, change: Callable[[DrillState], None]) -> DrillState:
    """Apply `change` to the current drill under the lock, save and return it."""
    with locked(settings):
        state = load_current(settings)
        if state is None:
            raise DrillError("no drill has been started here: `faultyard drill start`")
        change(state)
        save(settings, state)
        return state


def running_drill(settings: StackSettings) -> DrillState:
    """Return the drill in progress; DrillError if none runs."""
    state = load_current(settings)
    if state is None or not state.running:
        raise DrillError("no drill is running: `faultyard drill start` starts one")
    return state


def append_history(settings: StackSettings, state: DrillState) -> None:
    """Add a finished drill to the history."""
    with open(drill_dir(settings) / HISTORY_FILE, "a") as history:
        history.write(json.dumps(state.model_dump(mode="json")) + "\n")


def history(settings: StackSettings) -> list[DrillState]:
    """Return the finished drills, oldest first (unreadable lines skipped)."""
    path = drill_dir(settings) / HISTORY_FILE
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        try:
            found.append(DrillState.model_validate_json(line))
        except ValueError:
            continue
    return found


def supervisor_alive(state: DrillState) -> bool:
    """Return whether the drill's supervisor process still runs (a zombie does not)."""
    if state.supervisor_pid is None:
        return False
    try:
        status = Path(f"/proc/{state.supervisor_pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "(zombie)" not in status


def in_progress(settings: StackSettings) -> DrillState | None:
    """Return the drill in progress (its supervisor alive, or still starting), else None."""
    state = load_current(settings)
    if state is None or not state.running:
        return None
    if state.status == "running" and not supervisor_alive(state):
        return None
    if state.status == "starting" and time.time() - state.started_at > STARTING_TIMEOUT_S:
        return None  # its supervisor never came up
    return state


def hide_listings(settings: StackSettings, hidden: bool) -> None:
    """Hide (or show again) the lab's machinery: the admin API's listings, the fault metrics."""
    from target_app.public import load_settings

    path = load_settings({"state_dir": settings.state_path}).listings_hidden_file
    if hidden:
        path.write_text("a drill runs: switches, settings and faults are hidden until it ends\n")
    else:
        path.unlink(missing_ok=True)


def remedy_of(argv: list[str]) -> str | None:
    """Return the remedy a command applies (`setting:NAME`, `reload:SERVICE`), None if none."""
    if len(argv) == 3 and argv[0] == "setting" and argv[1] != "reset":
        return f"setting:{argv[1]}"
    if len(argv) == 2 and argv[0] == "reload":
        return f"reload:{argv[1]}"
    return None


def record_command(settings: StackSettings, argv: list[str], exit_code: int) -> None:
    """Add a `faultyard` command to the running drill's timeline (what the person did).

    The drill's own commands note what they do themselves; help is not an action. A
    remedy that succeeded is remembered for the supervisor to judge (chaos.drill.supervisor).
    """
    if not argv or argv[0] == "drill" or {"-h", "--help"} & set(argv):
        return
    if in_progress(settings) is None:
        return
    remedy = remedy_of(argv) if exit_code == 0 else None

    def note(state: DrillState) -> None:
        outcome = "" if exit_code == 0 else f" (exit {exit_code})"
        state.note(f"ran: faultyard {' '.join(argv)}{outcome}")
        if remedy is not None:
            state.remedies_tried.append((remedy, time.time()))

    update(settings, note)
