"""Whole drills through the `faultyard drill` command, on the test stack: graded, and clean after."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from chaos.drill.picker import pick
from chaos.drill.state import load_current
from chaos.scenarios.catalogue import load_catalogue
from chaos.stack.manager import Stack
from tests.conftest import eventually, faultyard
from tests.scenarios.test_runner import faults_on

pytestmark = pytest.mark.slow

CATALOGUE = load_catalogue()


def seed_for(names: list[str], *, control: bool) -> int:
    """Return the first seed that draws a control (or a fault) among these scenarios."""
    return next(
        s for s in range(1000) if pick(CATALOGUE, seed=s, scenario_from=names).control == control
    )


def drill(env: dict[str, str], *args: str, timeout_s: float = 180) -> dict[str, Any]:
    result = faultyard(env, "drill", *args, "--json", timeout_s=timeout_s)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def start(env: dict[str, str], tmp_path: Path, names: list[str], *, control: bool) -> dict:
    seed = seed_for(names, control=control)
    return drill(env, "start", "--seed", str(seed), "--scenario-from", ",".join(names),
                 "--quiet-delay", "1,1", "--report-dir", str(tmp_path))  # fmt: skip


def test_a_drill_answered_right_and_mitigated_scores_all_but_its_hint(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    scenario = CATALOGUE["slow-query"]
    paged = start(cli_env, tmp_path, ["slow-query"], control=False)
    # The page, and nothing that names the fault.
    assert paged["page"] == scenario.page and paged["status"] == "running"
    text = json.dumps(paged)
    for secret in ("slow-query", "lazy_order_history", "ix_orders_user_id"):
        assert secret not in text
    again = faultyard(cli_env, "drill", "start", "--no-wait")
    assert again.returncode == 2 and "a drill is already running" in again.stderr

    assert faultyard(cli_env, "logs", "app", "-n", "5").returncode == 0  # on the timeline
    hint = drill(cli_env, "hint")
    assert hint == {"hint": 1, "text": scenario.guide.where_to_look[0]}
    right = scenario.answer.choices[scenario.answer.correct_choice]
    number = paged["root_cause_choices"].index(right) + 1
    drill(cli_env, "answer", "--something-wrong", "--component", "database",
          "--cause-choice", str(number))  # fmt: skip
    drill(cli_env, "deploy-fix")
    ended = eventually(
        lambda: (s := drill(cli_env, "status"))["status"] == "ended" and s.get("grade") and s,
        "the drill to verify the mitigation and end",
        timeout_s=120,
    )
    grade = ended["grade"]  # type: ignore[index]
    assert (grade["total"], grade["max_total"], grade["scenario"]) == (95, 100, "slow-query")
    assert [level["points"] for level in grade["levels"]] == [20, 20, 30, 30]
    report = Path(ended["report"]).read_text()  # type: ignore[index]
    assert "`slow-query`" in report and "**95 / 100**" in report and "mitigated" in report
    assert "ran: faultyard logs app -n 5" in report and "hint 1 taken" in report
    assert faults_on(stack) == []
    past = drill(cli_env, "history")["drills"]
    assert past[-1]["total"] == 95 and past[-1]["scenario"] == "slow-query"


def test_a_control_rewards_the_engineer_who_finds_nothing_wrong(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    paged = start(cli_env, tmp_path, ["slow-query"], control=True)
    assert paged["page"]  # a page all the same: finding it false is the drill
    assert faults_on(stack) == []  # nothing injected
    graded = drill(cli_env, "answer", "--all-quiet")
    assert graded["grade"]["total"] == 100 and graded["grade"]["scenario"] is None
    assert not graded["grade"]["false_alarm"]


def test_giving_up_reveals_the_fault_rolls_it_back_and_scores_nothing(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    start(cli_env, tmp_path, ["deadlock"], control=False)
    assert "switch lock_in_cart_order" in faults_on(stack)
    gave_up = drill(cli_env, "give-up")
    assert gave_up["grade"]["total"] == 0 and gave_up["grade"]["scenario"] == "deadlock"
    assert faults_on(stack) == []


def test_a_killed_supervisor_leaves_nothing_after_reset(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    start(cli_env, tmp_path, ["deadlock"], control=False)
    state = load_current(stack.settings)
    assert state is not None and state.supervisor_pid is not None
    os.kill(state.supervisor_pid, signal.SIGKILL)
    eventually(lambda: not _alive(state.supervisor_pid), "the supervisor to be gone")
    status = faultyard(cli_env, "drill", "status")
    assert "supervisor stopped" in status.stdout + status.stderr
    assert "switch lock_in_cart_order" in faults_on(stack)
    reset = faultyard(cli_env, "reset")
    assert reset.returncode == 0, reset.stderr
    assert faults_on(stack) == []
    # The next drill starts, and the abandoned one is on record as failed.
    start(cli_env, tmp_path, ["deadlock"], control=True)
    drill(cli_env, "answer", "--all-quiet")


def _alive(pid: int | None) -> bool:
    """Return whether the process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return "(zombie)" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def test_a_remedy_the_answer_key_accepts_mitigates_without_the_fix(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A slow database link: a short catalog cache, as on call, ends the incident."""
    start(cli_env, tmp_path, ["db-latency"], control=False)
    drill(cli_env, "answer", "--something-wrong", "--component", "network")
    remedy = faultyard(cli_env, "setting", "catalog_cache_ttl_s", "5")
    assert remedy.returncode == 0, remedy.stderr
    assert "catalog_cache_ttl_s" in remedy.stdout and "pool_size" not in remedy.stdout
    ended = eventually(
        lambda: (s := drill(cli_env, "status"))["status"] == "ended" and s.get("grade") and s,
        "the drill to verify the mitigation and end",
        timeout_s=120,
    )
    grade = ended["grade"]  # type: ignore[index]
    assert [level["points"] for level in grade["levels"]] == [20, 20, 0, 30]
    report = Path(ended["report"]).read_text()  # type: ignore[index]
    assert "ran: faultyard setting catalog_cache_ttl_s 5" in report
    assert "mitigated by setting:catalog_cache_ttl_s" in report
    assert faults_on(stack) == []
