"""Start a scenario run from the console: `faultyard scenario NAME` in a session of its own.

The run is the CLI's, with its journal, report and signals; the console only starts it
(detached, so that a console restart does not stop it), waits until the run has listed
itself in the stack's run index, and answers its id. Its terminal output goes to
`console-runs.log` in the state folder.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chaos.drill.state import in_progress
from chaos.errors import FaultyardError
from chaos.scenarios.run_index import RunEntry, RunInProgressError, recent_runs, refuse_if_running
from chaos.settings import StackSettings

#: Where the console's runs put their reports: FAULTYARD_REPORTS_DIR, else the checkout's reports/.
DEFAULT_REPORTS = Path(__file__).resolve().parents[2] / "reports"
RUNS_LOG = "console-runs.log"
STARTING_LOCK = ".console-starting.lock"
#: How long the run may take to list itself (imports, and the stack brought up if it was down).
LIST_TIMEOUT_S = 60.0


class RunRefused(FaultyardError):
    """A run that cannot start now (another run or a drill is in progress)."""


def reports_root() -> Path:
    """Return the folder the console's runs write their report folders to."""
    return Path(os.environ.get("FAULTYARD_REPORTS_DIR") or DEFAULT_REPORTS).resolve()


def refuse_if_busy(settings: StackSettings) -> None:
    """Raise RunRefused while a drill, a run, or any other fault-injecting process is on."""
    from chaos.scenarios.cleanup import read_active  # loads the injector's clients: not at start

    if in_progress(settings) is not None:
        raise RunRefused("a drill is running: no scenario runs until it ends")
    try:
        refuse_if_running(settings, "no run starts now")
    except RunInProgressError as exc:
        raise RunRefused(str(exc)) from None
    active = read_active(settings)
    if active is not None and active.runner_alive():
        raise RunRefused(f"{active.scenario} (pid {active.pid}) is injecting faults; wait for it")


@contextmanager
def starting(settings: StackSettings) -> Iterator[None]:
    """Hold the console's start lock: one run or drill at a time gets from "nothing is
    running" to "it is listed" (a double click, a second tab)."""
    settings.state_path.mkdir(parents=True, exist_ok=True)
    with (settings.state_path / STARTING_LOCK).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def start_run(settings: StackSettings, scenario: str, *, fixed: bool) -> RunEntry:
    """Start `faultyard scenario` detached; return its index entry once it has one."""
    with starting(settings):
        refuse_if_busy(settings)
        return _spawn(settings, scenario, fixed=fixed)


def _spawn(settings: StackSettings, scenario: str, *, fixed: bool) -> RunEntry:
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
    threading.Thread(target=runner.wait, daemon=True).start()  # reaped when it ends
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
