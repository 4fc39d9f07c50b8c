"""Ctrl-C (SIGINT) and SIGTERM at every moment of a run (the two take turns): rolled back, reported, exit 130 / 143.

Each run is `slow-redis`, a scenario of a user's own (tests/scenarios/user_scenarios), so
it is quick and also proves FAULTYARD_SCENARIOS_PATH end to end. The child's signal
dispositions are set explicitly: both signals ignored, as a shell leaves SIGINT for a
background job, so the runner must install its own handlers to stop at all.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chaos.scenarios.catalogue import PATH_ENV
from chaos.scenarios.cleanup import active_file
from chaos.stack.manager import Stack
from tests.conftest import eventually
from tests.scenarios.test_runner import faults_on, observing, runner_children

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
USER_SCENARIOS = Path(__file__).with_name("user_scenarios")
#: A signal must end the run this soon, rollback and report included.
END_WITHIN_S = 10.0

OK = "succeeded"
BEFORE_INJECT = {"preflight": OK, "baseline": "interrupted", "report": OK}
UNTIL_OBSERVE = {"preflight": OK, "baseline": OK, "inject": OK, "observe": OK}
WHOLE_RUN = {**UNTIL_OBSERVE, "rollback": OK, "recovery": OK, "report": OK}
#: The phases a run goes through, and how each ends, when the signal comes at each moment.
EXPECTED = {
    "preflight": {"preflight": "interrupted", "report": OK},
    "baseline": BEFORE_INJECT,
    "load_starting": BEFORE_INJECT,
    "inject": {
        "preflight": OK,
        "baseline": OK,
        "inject": "interrupted",
        "rollback": OK,
        "report": OK,
    },
    "observe": {**UNTIL_OBSERVE, "observe": "interrupted", "rollback": OK, "report": OK},
    # Rollback finishes whatever comes; the run then skips recovery.
    "rollback": {**UNTIL_OBSERVE, "rollback": OK, "report": OK},
    "recovery": {**WHOLE_RUN, "recovery": "interrupted"},
    "load_stopping": WHOLE_RUN,
    "report": WHOLE_RUN,
}


def ignore_both() -> None:
    """The child's dispositions, set explicitly: SIGINT and SIGTERM ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def default_both() -> None:
    """The child's dispositions, set explicitly: SIGINT and SIGTERM as a terminal gives them."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def scenario_env(cli_env: dict[str, str]) -> dict[str, str]:
    """The session stack's environment, with the user's scenarios and a short baseline."""
    return {**cli_env, PATH_ENV: str(USER_SCENARIOS), "FAULTYARD_RUN_BASELINE_MIN_S": "1"}


def start(
    env: dict[str, str], argv: list[str], dispositions: Callable[[], None]
) -> subprocess.Popen[str]:
    """Start a child Python with the given signal dispositions."""
    return subprocess.Popen(
        [sys.executable, *argv], env=env, cwd=REPO, preexec_fn=dispositions,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def check_rolled_back(stack: Stack, journal: dict[str, Any], reports: Path) -> None:
    """Nothing of the run is left: no fault, no trail, no shopper; every fault reverted."""
    assert all(f["reverted_at"] for f in journal["faults"]), journal["faults"]
    assert faults_on(stack) == []
    assert not active_file(stack.settings).exists()
    eventually(lambda: not runner_children(str(reports)), "Locust to exit", 10)
    assert (Path(journal["report_dir"]) / "report.md").exists()


#: Each moment once, the two signals taking turns: both then land before, during and after the
#: injection (they share one handler; each case checks its own exit code and verdict).
SIGNAL_AT = [(moment, ("SIGTERM", "SIGINT")[i % 2]) for i, moment in enumerate(EXPECTED)]


@pytest.mark.parametrize(("moment", "signame"), SIGNAL_AT)
def test_a_signal_at_any_moment_rolls_back_and_exits_128_plus_its_number(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path, moment: str, signame: str
) -> None:
    stamp = tmp_path / "signalled-at"
    runner = start(
        scenario_env(cli_env),
        ["-m", "tests.scenarios.signal_at", moment, signame, str(stamp), "--",
         "scenario", "slow-redis", "--json", "--report-dir", str(tmp_path / "reports")],
        ignore_both,
    )  # fmt: skip
    try:
        out, err = runner.communicate(timeout=120)
    finally:
        if runner.poll() is None:
            runner.kill()
    ended = time.time()
    signum = getattr(signal, signame)
    assert runner.returncode == 128 + signum, err[-3000:]
    journal = json.loads(out)
    assert journal["verdict"] == f"interrupted by {signame} (rolled back)"
    assert {p["name"]: p["status"] for p in journal["phases"]} == EXPECTED[moment]
    assert ended - float(stamp.read_text()) < END_WITHIN_S
    check_rolled_back(stack, journal, tmp_path / "reports")


def test_ctrl_c_from_outside_while_observing(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A real SIGINT from another process, the child's dispositions the terminal's defaults."""
    reports = tmp_path / "reports"
    runner = start(
        scenario_env(cli_env),
        ["-m", "chaos", "scenario", "slow-redis", "--fixed", "--duration", "60",
         "--report-dir", str(reports)],
        default_both,
    )  # fmt: skip
    try:
        eventually(lambda: observing(reports) or runner.poll() is not None, "observe", 60)
        runner.send_signal(signal.SIGINT)
        signalled = time.time()
        out, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 130, out + err
    assert time.time() - signalled < END_WITHIN_S
    assert "slow-redis: interrupted by SIGINT (rolled back) (exit 130)" in out
    journal = json.loads(next(reports.glob("slow-redis-*/journal.json")).read_text())
    statuses = {p["name"]: p["status"] for p in journal["phases"]}
    assert statuses == {**UNTIL_OBSERVE, "observe": "interrupted", "rollback": OK, "report": OK}
    check_rolled_back(stack, journal, reports)
