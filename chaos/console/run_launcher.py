"""Start a scenario run from the console: `faultyard scenario NAME` in a session of its own.

The run is the CLI's, with its journal, report and signals; the console only starts it
(detached, so that a console restart does not stop it), waits until the run has listed
itself in the stack's run index, and answers its id. Its terminal output goes to
`console-runs.log` in the state folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from chaos.drill.state import in_progress
from chaos.errors import FaultyardError
from chaos.scenarios.run_index import RunEntry, recent_runs
from chaos.settings import StackSettings

#: Where the console's runs put their reports: FAULTYARD_REPORTS_DIR, else the checkout's reports/.
DEFAULT_REPORTS = Path(__file__).resolve().parents[2] / "reports"
RUNS_LOG = "console-runs.log"
#: How long the run may take to list itself (imports, and the stack brought up if it was down).
LIST_TIMEOUT_S = 60.0


class RunRefused(FaultyardError):
    """A run that cannot start now (another run or a drill is in progress)."""


def reports_root() -> Path:
    """Return the folder the console's runs write their report folders to."""
    return Path(os.environ.get("FAULTYARD_REPORTS_DIR") or DEFAULT_REPORTS).resolve()


def running_run(settings: StackSettings) -> RunEntry | None:
    """Return the run in progress (its journal not ended and its process alive), None if none."""
    for entry in recent_runs(settings, limit=10):
        journal = entry.load_journal() or {}
        if journal.get("ended_at") is None and _alive(entry.pid):
            return entry
    return None


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def refuse_if_busy(settings: StackSettings) -> None:
    """Raise RunRefused while a drill, a run, or any other fault-injecting process is on."""
    from chaos.scenarios.cleanup import read_active  # loads the injector's clients: not at start

    if in_progress(settings) is not None:
        raise RunRefused("a drill is running: no scenario runs until it ends")
    busy = running_run(settings)
    if busy is not None:
        raise RunRefused(f"the run {busy.id} is in progress; wait for it to end")
    active = read_active(settings)
    if active is not None and active.runner_alive():
        raise RunRefused(f"{active.scenario} (pid {active.pid}) is injecting faults; wait for it")


def start_run(settings: StackSettings, scenario: str, *, fixed: bool) -> RunEntry:
    """Start `faultyard scenario` detached; return its index entry once it has one."""
    refuse_if_busy(settings)
    argv = [
        sys.executable,
        "-m",
        "chaos",
        "scenario",
        scenario,
        "--report-dir",
        str(reports_root()),
    ]
    if fixed:
        argv.append("--fixed")
    log_path = settings.state_path / RUNS_LOG
    with log_path.open("ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv[1:])}\n".encode())
        log.flush()
        runner = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "FAULTYARD_STATE_DIR": str(settings.state_path)},
            start_new_session=True,  # outlives the console's worker
        )
    deadline = time.monotonic() + LIST_TIMEOUT_S
    while time.monotonic() < deadline:
        entry = next((r for r in recent_runs(settings, limit=5) if r.pid == runner.pid), None)
        if entry is not None:
            return entry
        if runner.poll() is not None:
            raise FaultyardError(
                f"the run exited ({runner.returncode}) before it began: {_tail(log_path)}"
            )
        time.sleep(0.2)
    raise FaultyardError(f"the run did not begin within {LIST_TIMEOUT_S:g}s; see {log_path}")


def _tail(path: Path, lines: int = 3) -> str:
    return " / ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
