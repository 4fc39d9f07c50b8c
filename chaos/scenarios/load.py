"""Shoppers for a run: Locust headless as a child process, and its stats from --csv.

Locust runs the scenario's journeys (scenarios/locustfile.py) through the shop
proxy, from the baseline to the end of recovery. It dies with the runner
(PR_SET_PDEATHSIG), so a runner killed with SIGKILL leaves no shoppers behind;
its --run-time bounds it in any case.
"""

from __future__ import annotations

import csv
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.errors import FaultyardError
from chaos.scenarios.journeys import locustfile
from chaos.scenarios.model import LoadProfile

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_S = 10.0
#: Locust's stats columns the report shows, by their CSV names.
COLUMNS = {
    "Type": "method",
    "Name": "name",
    "Request Count": "requests",
    "Failure Count": "failures",
    "Median Response Time": "median_ms",
    "95%": "p95_ms",
    "99%": "p99_ms",
    "Max Response Time": "max_ms",
    "Requests/s": "rps",
}


class LoadError(FaultyardError):
    """Locust could not be started or stopped early."""


def _dying_with(parent: int) -> Callable[[], None]:
    """Return what the child runs between fork and exec: SIGTERM when `parent` dies.

    A parent killed between the fork and the prctl call would leave the child
    unwatched (it has a new parent by then): the child then exits at once.
    """

    def die_with_parent() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)

    return die_with_parent


@dataclass
class Load:
    """One Locust run: start it, stop it, read its stats."""

    profile: LoadProfile
    host: str
    out_dir: Path
    users: int
    run_time_s: float
    seed: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def csv_prefix(self) -> Path:
        """Return the prefix of Locust's CSV files."""
        return self.out_dir / "locust"

    @property
    def log_file(self) -> Path:
        """Return Locust's own log (its stdout and stderr)."""
        return self.out_dir / "locust.log"

    def argv(self) -> list[str]:
        """Return Locust's command line."""
        return [
            sys.executable, "-m", "locust", "-f", str(locustfile()), "--headless",
            "--host", self.host, "--csv", str(self.csv_prefix), "--only-summary",
            "--loglevel", "WARNING", "--stop-timeout", "2",
            *self.profile.locust_args(users=self.users, duration_s=self.run_time_s),
        ]  # fmt: skip

    def start(self) -> None:
        """Start the shoppers."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        if self.seed is not None:
            env["FAULTYARD_LOAD_SEED"] = str(self.seed)
        with open(self.log_file, "ab") as log:
            try:
                self.process = subprocess.Popen(
                    self.argv(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    preexec_fn=_dying_with(os.getpid()),
                    # Its own session: a Ctrl-C at the terminal reaches the runner alone, which
                    # stops the shoppers itself once it has rolled back.
                    start_new_session=True,
                )
            except OSError as exc:
                raise LoadError(f"could not start Locust: {exc}") from None

    def running(self) -> bool:
        """Return whether Locust still runs."""
        return self.process is not None and self.process.poll() is None

    def stop(self) -> int | None:
        """Stop Locust (SIGTERM: it writes its final stats) and return its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def stats(self) -> dict[str, Any]:
        """Return Locust's stats per request name and the failures, from its CSV files."""
        rows = _read_csv(Path(f"{self.csv_prefix}_stats.csv"))
        failures = _read_csv(Path(f"{self.csv_prefix}_failures.csv"))
        return {
            "requests": [
                {key: _number(row.get(column, "")) for column, key in COLUMNS.items()}
                for row in rows
            ],
            "failures": [
                {
                    "method": f.get("Method", ""),
                    "name": f.get("Name", ""),
                    "error": f.get("Error", ""),
                    "occurrences": _number(f.get("Occurrences", "0")),
                }
                for f in failures
            ],
            "exit_code": None if self.process is None else self.process.returncode,
        }


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        return []


def _number(text: str) -> Any:
    """Return CSV text as an int or float where it is one, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text
