"""The crash test for real: runners killed with SIGKILL on the session stack, and the look after."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.crashtest.leftovers import indexes, leftovers
from chaos.crashtest.plan import REQUIRED
from chaos.faults import Index, ProcessFault, ProxyDown, Setting, Switch, Toxic
from chaos.faults.injector import Injector
from chaos.scenarios.cleanup import ActiveRun, undo_crashed_run, write_active
from chaos.stack.manager import Stack
from tests.conftest import eventually

pytestmark = pytest.mark.slow

#: Every moment the crash test must reach, once: a short crash test that still proves it.
POINTS = len(REQUIRED)
SEED = 20261206


@pytest.fixture
def injector(stack: Stack) -> Iterator[Injector]:
    injector = Injector(stack)
    yield injector
    undo_crashed_run(stack)
    injector.sweep()


def test_the_look_finds_every_kind_of_leftover_and_then_none(
    stack: Stack, injector: Injector, tmp_path: Path
) -> None:
    expected = {name: True for name, valid in indexes(stack).items() if valid}
    marker = str(tmp_path / "a-run")
    shopper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", marker]  # a Locust left behind
    )
    index = "ix_orders_user_id"
    try:
        for fault in (
            Toxic(proxy="postgres", type="latency", attributes={"latency": 1}, name="left"),
            ProxyDown(proxy="redis"),
            Switch(name="lock_in_cart_order", value=True),
            Setting(name="payment_failure_rate", value=0.5),
            ProcessFault(service="relay", action="pause"),
            Index(name=index, present=False),
        ):
            injector.apply(fault)
        write_active(stack.settings, ActiveRun("test", 2**22 + 1, 0.0, steps=[]))
        found = "\n".join(leftovers(stack, expected, marker))
        for expected_line in (
            "toxic left (latency) on postgres", "proxy redis disabled",
            "switch lock_in_cart_order on", "setting payment_failure_rate = 0.5",
            "relay: ", "processes stopped (SIGSTOP)", f"index {index} missing",
            f"Locust still running: pids {shopper.pid}", "active-run file",
        ):  # fmt: skip
            assert expected_line in found, found
    finally:
        shopper.kill()
        shopper.wait()
    undo_crashed_run(stack)
    injector.sweep()
    # A service that lost Redis or was stopped may take a moment to be healthy again.
    eventually(lambda: leftovers(stack, expected, marker) == [], "a clean stack", 30)


def test_runners_killed_at_every_required_moment_leave_a_clean_stack(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chaos.crashtest", "--points", str(POINTS), "--seed", str(SEED),
         "--report-dir", str(tmp_path)],
        env=cli_env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    folder = next(tmp_path.glob("crashtest-*"))
    report = json.loads((folder / "crash-test.json").read_text())
    points = report["points"]
    assert report["clean"] and len(points) == POINTS
    assert sorted(p["point"]["moment"] for p in points) == sorted(REQUIRED)
    assert all(p["killed"] and not p["left_after"] and p["recovery_ok"] for p in points), points
    # The kills were real: some left faults on that only the recovery removed.
    assert any(p["left_by_kill"] for p in points), points
    assert {p["point"]["recovery"] for p in points} == {"reset", "preflight"}
    assert "| # | scenario |" in (folder / "crash-test.md").read_text()
