"""No fault left behind: the active-run file, and a sweep for any fault still on.

Before it injects anything, a run writes what it is about to inject to
STATE/scenario-active.json, and removes the file once rollback has undone it
all. A runner killed with SIGKILL leaves the file behind: `faultyard reset` and
the next run's preflight read it and undo what it lists, including what no
other part of the stack remembers (a paused process, a reload to do).

The sweep then looks at the stack itself for any fault, whoever left it:
toxics and disabled proxies, bug switches on, runtime settings changed,
stopped processes in a service's tree.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.errors import FaultyardError
from chaos.faults.injector import Injector, Step, step_from_dict
from chaos.settings import StackSettings
from chaos.stack import process
from chaos.stack.manager import Stack

ACTIVE_FILE = "scenario-active.json"


def active_file(settings: StackSettings) -> Path:
    """Return the file that lists the faults of the run in progress."""
    return settings.state_path / ACTIVE_FILE


@dataclass
class ActiveRun:
    """What a run has (or may have) injected, and what its rollback must do."""

    scenario: str
    pid: int
    started_at: float
    steps: list[dict[str, Any]]
    rollbacks: list[dict[str, Any]] = field(default_factory=list)

    def runner_alive(self) -> bool:
        """Return whether the process that wrote the file still runs (and is not us)."""
        if self.pid == os.getpid():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return process.start_ticks(self.pid) is not None


def write_active(settings: StackSettings, run: ActiveRun) -> Path:
    """Write the active-run file (atomically: a reader never sees half of it)."""
    path = active_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(run.__dict__, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def read_active(settings: StackSettings) -> ActiveRun | None:
    """Return the active run the file lists, None if there is none (or it is unreadable)."""
    try:
        data = json.loads(active_file(settings).read_text())
        return ActiveRun(**data)
    except (FileNotFoundError, ValueError, TypeError):
        return None


def clear_active(settings: StackSettings) -> None:
    """Remove the active-run file."""
    active_file(settings).unlink(missing_ok=True)


def undo_active(injector: Injector) -> list[str]:
    """Undo what the active-run file lists (faults in reverse order, then its rollbacks).

    Returns one line per step; the file is removed once every step is undone,
    and kept (naming what failed) otherwise.
    """
    settings = injector.stack.settings
    run = read_active(settings)
    if run is None:
        return []
    lines = [f"undoing run of {run.scenario} (pid {run.pid}, {_ago(run.started_at)})"]
    failed: list[str] = []
    steps: list[tuple[Step, bool]] = [
        *((step_from_dict(s), True) for s in reversed(run.steps)),
        *((step_from_dict(s), False) for s in run.rollbacks),
    ]
    for step, is_fault in steps:
        try:
            lines.append(injector.revert(step) if is_fault else injector.apply(step))
        except FaultyardError as exc:
            failed.append(step.describe())
            lines.append(f"could not undo {step.describe()}: {exc}")
    if failed:
        lines.append(f"kept {active_file(settings)}: {', '.join(failed)} still to undo")
    else:
        clear_active(settings)
    return lines


def _ago(moment: float) -> str:
    return f"started {time.time() - moment:.0f}s ago"


def sweep(injector: Injector) -> list[str]:
    """Remove every fault still on the stack, whoever left it; return what was removed."""
    return injector.sweep()


def undo_crashed_run(stack: Stack) -> list[str]:
    """Undo what a killed run left (its active-run file) and continue any paused service.

    What `faultyard reset` adds to removing toxics, switches and settings: the
    faults only the active-run file remembers.
    """
    injector = Injector(stack)
    return undo_active(injector) + injector.resume_stopped()
