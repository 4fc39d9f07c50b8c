"""One point of the crash test: a run killed at its moment, the stack recovered, then looked at.

The run is a real `faultyard scenario` in a child process (chaos.crashtest.victim),
so the kill is a real SIGKILL of a real runner with Locust as its child. The
recovery is what a user does: `faultyard reset` as a command, or simply the
next run, whose preflight must clean up before it injects anything (that run
is killed at the start of its baseline, once preflight is done, so it adds no
fault of its own).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos.crashtest.leftovers import faults, leftovers
from chaos.crashtest.plan import CrashPoint
from chaos.scenarios.cleanup import active_file
from chaos.stack.manager import Stack

#: A run that neither ends nor reaches its moment in this time is stopped and reported.
RUN_TIMEOUT_S = 300.0
RESET_TIMEOUT_S = 120.0
#: Short runs: the scenario's own window up to this long, this many shoppers at most.
MAX_WINDOW_S = 10.0
MAX_USERS = 12


@dataclass
class PointResult:
    """What one point did and found."""

    point: CrashPoint
    killed: bool = False
    killed_in: str = ""
    faults_at_kill: list[str] = field(default_factory=list)
    left_by_kill: list[str] = field(default_factory=list)
    recovery_ok: bool = False
    recovery_said: str = ""
    left_after: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        """Return whether the stack was clean after the recovery."""
        return self.recovery_ok and not self.left_after

    def as_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        data = asdict(self)
        data["point"], data["clean"] = self.point.as_dict(), self.clean
        return data


def victim_argv(point: CrashPoint, moment: str, delay_s: float, folder: Path) -> list[str]:
    """Return the command line of a run that kills itself `delay_s` after `moment`."""
    from chaos.scenarios.catalogue import get_scenario

    load = get_scenario(point.scenario).load
    window = min(load.duration_s, MAX_WINDOW_S)
    return [
        sys.executable, "-m", "chaos.crashtest.victim", moment, f"{delay_s:g}",
        str(folder / "stamp.json"), "--",
        "scenario", point.scenario, *(["--fixed"] if point.fixed else []),
        "--duration", f"{window:g}", "--users", str(min(load.users, MAX_USERS)),
        "--seed", str(point.number), "--report-dir", str(folder / "reports"),
    ]  # fmt: skip


def run_victim(argv: list[str], folder: Path, env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Run a victim to its end; return its exit code and its stamp ({} if it was not killed)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "run.log", "wb") as log:
        child = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            code = child.wait(RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()  # SIGKILL too: what is left is looked at like any other point's
            code = child.wait()
    try:
        stamp = json.loads((folder / "stamp.json").read_text())
    except (FileNotFoundError, ValueError):
        stamp = {}
    return code, stamp


def tail(path: Path, lines: int = 15) -> str:
    """Return the last lines of a log."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def recover(stack: Stack, point: CrashPoint, folder: Path, env: dict[str, str]) -> tuple[bool, str]:
    """Recover the stack as the point says; return whether that worked, and what it said."""
    if point.recovery == "reset":
        done = subprocess.run(
            [sys.executable, "-m", "chaos", "reset"], env=env, capture_output=True,
            text=True, timeout=RESET_TIMEOUT_S,
        )  # fmt: skip
        return done.returncode == 0, (done.stdout + done.stderr).strip()
    argv = victim_argv(point, "baseline", 0.0, folder / "next-run")
    code, stamp = run_victim(argv, folder / "next-run", env)
    said = tail(folder / "next-run" / "run.log")
    if code == -signal.SIGKILL and stamp.get("phase") == "baseline":
        return True, said
    return False, f"the next run did not get through preflight (exit {code}):\n{said}"


def run_point(
    stack: Stack, point: CrashPoint, out_dir: Path, expected_indexes: dict[str, bool]
) -> PointResult:
    """Kill one run at its point, recover, and return what was left before and after."""
    started = time.monotonic()
    folder = out_dir / f"point-{point.number:02d}"
    env = dict(os.environ)
    result = PointResult(point)
    code, stamp = run_victim(victim_argv(point, point.moment, point.delay_s, folder), folder, env)
    result.killed = code == -signal.SIGKILL and bool(stamp)
    result.killed_in = stamp.get("phase", f"not killed: the run ended first (exit {code})")
    result.faults_at_kill = stamp.get("faults_on", [])
    result.left_by_kill = faults(stack)
    if active_file(stack.settings).exists():
        result.left_by_kill.append("active-run file")
    result.recovery_ok, result.recovery_said = recover(stack, point, folder, env)
    result.left_after = leftovers(stack, expected_indexes, marker=str(folder))
    result.seconds = time.monotonic() - started
    return result
