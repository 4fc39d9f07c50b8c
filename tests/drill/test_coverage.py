"""Alert coverage: the alerts a scenario's fault sets off, measured on the test stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.drill.coverage import Coverage, markdown
from chaos.stack.manager import Stack
from tests.conftest import faultyard
from tests.scenarios.test_runner import faults_on


def test_the_matrix_shows_blind_spots_and_leaves_out_alerts_firing_before() -> None:
    rows = [
        Coverage("deadlock", {"HighErrorRate": 4.0, "PostgresDeadlocks": 2.0}),
        Coverage("oversell", {}, ["BusinessInvariantBroken"]),
    ]
    text = "\n".join(markdown(rows, 30))
    assert "| deadlock | PostgresDeadlocks (2), HighErrorRate (4) | - |" in text
    assert "| oversell | **none: the alerting is blind to it** | BusinessInvariantBroken |" in text


@pytest.mark.slow
def test_a_deadlock_sets_off_its_alert_and_is_rolled_back(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "coverage"
    result = faultyard(cli_env, "coverage", "--scenarios", "deadlock", "--window", "20",
                       "--out", str(out), "--json", timeout_s=180)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = json.loads(result.stdout)["scenarios"]
    assert "PostgresDeadlocks" in row["fired"], row
    assert 0 <= row["fired"]["PostgresDeadlocks"] <= 20
    assert "| deadlock | " in out.with_suffix(".md").read_text()
    assert faults_on(stack) == []


def test_unknown_scenarios_are_refused_with_the_known_ones(cli_env: dict[str, str]) -> None:
    result = faultyard(cli_env, "coverage", "--scenarios", "nope")
    assert result.returncode == 2 and "nope" in result.stderr and "deadlock" in result.stderr
