"""Game days: a seeded schedule of faults, run under load, and the alerts credited to each."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chaos.drill.gameday import MAX_USERS, gameday_load
from chaos.drill.gameday_ledger import FaultRun, InjectionLog, Ledger, read_log
from chaos.drill.gameday_report import markdown
from chaos.drill.gameday_schedule import (
    CONFLICT_GAP_S,
    MIN_HOLD_S,
    ScheduleError,
    choose,
    draw,
    machinery,
)
from chaos.scenarios.catalogue import load_catalogue
from chaos.scenarios.cleanup import ActiveRun, active_file, write_active
from chaos.settings import load_stack_settings
from chaos.stack.manager import Stack
from tests.conftest import eventually, faultyard
from tests.scenarios.test_runner import faults_on

CATALOGUE = load_catalogue()
#: Scenarios a game day may draw from, plus one: more faults than a day can hold.
TOO_MANY = len(choose(CATALOGUE, None)) + 1
#: Every scenario of the catalogue, as an unknown name's error lists them.
KNOWN = re.escape(", ".join(sorted(CATALOGUE)))


# ---------------------------------------------------------------- the schedule


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    options: dict[str, Any] = {"duration_s": 1200, "faults": 3}
    assert [draw(CATALOGUE, seed=s, **options) for s in range(30)] == [
        draw(CATALOGUE, seed=s, **options) for s in range(30)
    ]
    assert draw(CATALOGUE, seed=1, **options) != draw(CATALOGUE, seed=2, **options)
    assert len({draw(CATALOGUE, seed=s, **options).slots for s in range(30)}) == 30


@pytest.mark.parametrize(("duration_s", "faults"), [(1200, 3), (300, 5), (90, 2), (600, 10)])
def test_every_fault_fits_the_day_after_its_quiet_start_and_before_its_tail(
    duration_s: float, faults: int
) -> None:
    for seed in range(40):
        schedule = draw(CATALOGUE, seed=seed, duration_s=duration_s, faults=faults)
        assert len(schedule.slots) == faults
        assert len({s.scenario for s in schedule.slots}) == faults
        assert schedule.quiet_s > 0 and schedule.tail_s > 0
        for slot in schedule.slots:
            assert slot.hold_s >= MIN_HOLD_S
            assert schedule.quiet_s <= slot.start_s
            assert slot.end_s <= duration_s - schedule.tail_s


def test_conflicting_faults_never_overlap_and_others_may() -> None:
    # deadlock and oversell both set checkout_lock_pause_ms; db-latency and stale-connections
    # both put a toxic on the postgres proxy.
    assert "setting checkout_lock_pause_ms" in machinery(CATALOGUE["deadlock"])
    assert "proxy postgres" in machinery(CATALOGUE["stale-connections"])
    assert "service app" in machinery(CATALOGUE["connection-leak"])  # its rollback reloads it
    overlapped = 0
    for seed in range(200):
        schedule = draw(CATALOGUE, seed=seed, duration_s=400, faults=6)
        for a, b in itertools.combinations(schedule.slots, 2):
            if a.conflicts_with(b):
                assert not a.overlaps(b, CONFLICT_GAP_S), (seed, a, b)
            elif a.overlaps(b):
                overlapped += 1
    assert overlapped > 0


def test_a_crowded_day_of_conflicting_faults_still_fits_them_one_after_another() -> None:
    for seed in range(50):
        schedule = draw(CATALOGUE, seed=seed, duration_s=80, faults=2,
                        scenarios=["deadlock", "oversell"])  # fmt: skip
        first, second = schedule.slots
        assert second.start_s >= first.end_s + CONFLICT_GAP_S


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"faults": TOO_MANY}, f"{TOO_MANY} faults asked, but only {TOO_MANY - 1} scenarios"),
        ({"faults": 3, "scenarios": ["deadlock", "oversell"]}, "only 2 scenarios"),
        ({"faults": 0}, "at least one fault"),
        ({"duration_s": 40}, "too short"),
        ({"scenarios": ["deadlock", "nope"]}, f"unknown scenario nope; known: {KNOWN}$"),
        ({"duration_s": 60, "faults": 2, "scenarios": ["deadlock", "oversell"]}, "no room"),
    ],
)
def test_bad_options_are_refused_clearly(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        draw(CATALOGUE, **{"seed": 1, "duration_s": 1200, "faults": 1, **options})


def test_the_command_prints_a_dry_run_without_a_stack() -> None:
    args = ("gameday", "--dry-run", "--seed", "5", "--duration", "20m", "--faults", "3")
    result = faultyard(dict(os.environ), *args, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == draw(CATALOGUE, seed=5, duration_s=1200).to_dict()
    text = faultyard(dict(os.environ), *args).stdout
    assert "seed 5" in text and len(text.splitlines()) == 4
    bad = faultyard(dict(os.environ), "gameday", "--dry-run", "--scenarios", "nope")
    assert bad.returncode == 2 and "nope" in bad.stderr and "deadlock" in bad.stderr
    bad = faultyard(dict(os.environ), "gameday", "--dry-run", "--duration", "soon")
    assert bad.returncode == 2 and "not a duration" in bad.stderr


def test_a_game_day_is_refused_while_another_run_injects(tmp_path: Path) -> None:
    settings = load_stack_settings(state_dir=tmp_path / "state")
    write_active(settings, ActiveRun("deadlock", os.getpid(), time.time(), []))
    env = {**os.environ, "FAULTYARD_STATE_DIR": str(settings.state_path)}
    result = faultyard(env, "gameday", "--seed", "1", "--duration", "60s", "--faults", "1",
                       "--report-dir", str(tmp_path / "reports"))  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert f"another run is in progress: deadlock (pid {os.getpid()})" in result.stderr
    assert not (tmp_path / "reports").exists()


def test_each_scheduled_scenario_brings_the_shoppers_its_own_run_has() -> None:
    schedule = draw(CATALOGUE, seed=3, duration_s=300, faults=2,
                    scenarios=["deadlock", "stale-connections"])  # fmt: skip
    profile = gameday_load(CATALOGUE, schedule)
    # deadlock: 12 users, ContendedBuyer 8 of 12; stale-connections: 10, Browser 6 of 10.
    assert profile.journeys == {"Browser": 8, "Buyer": 3, "ContendedBuyer": 8,
                                "HistoryReader": 2, "StockWatcher": 1}  # fmt: skip
    assert profile.users == 22 and profile.duration_s >= 300


def test_a_crowded_day_shrinks_every_scenarios_shoppers_alike() -> None:
    schedule = draw(CATALOGUE, seed=3, duration_s=1200, faults=4)
    profile = gameday_load(CATALOGUE, schedule)
    wanted = sum(CATALOGUE[slot.scenario].load.users for slot in schedule.slots)
    assert wanted > MAX_USERS and profile.users == MAX_USERS
    assert abs(sum(profile.journeys.values()) - MAX_USERS) <= len(profile.journeys)


# ---------------------------------------------------------------- crediting alerts


def test_alerts_are_credited_to_faults_on_or_recent_and_the_rest_are_false_positives() -> None:
    a = FaultRun("deadlock", 10, 20, ["switch"])
    b = FaultRun("slow-query", 200, 20, ["switch"])
    ledger = Ledger([a, b], grace_s=60)
    ledger.start({"RepeatedQueryPerRequest"})
    ledger.observe(5, {"RepeatedQueryPerRequest", "HighLatencyP99"})  # no fault yet
    ledger.injected(a, 10)
    ledger.observe(13, {"RepeatedQueryPerRequest", "HighLatencyP99", "PostgresDeadlocks"})
    ledger.reverted(a, 30)
    ledger.observe(40, {"RepeatedQueryPerRequest", "HighErrorRate"})  # within the grace
    ledger.observe(100, {"RepeatedQueryPerRequest", "HighErrorRate", "QueueBacklog"})  # after it
    ledger.injected(b, 200)
    ledger.reverted(b, 220)
    d = FaultRun("lock-wait", 230, 20, ["switch"])
    on_now = Ledger([b, d], grace_s=60)
    on_now.injected(d, 230)
    on_now.observe(235, {"PostgresLockWaits"})  # slow-query went 15 s ago: lock-wait is on
    assert d.alerts == {"PostgresLockWaits": 5} and "PostgresLockWaits" not in b.alerts
    ledger.finish()
    summary = ledger.summary(300)
    assert a.alerts == {"PostgresDeadlocks": 3, "HighErrorRate": 30}
    assert a.already_firing == ["HighLatencyP99", "RepeatedQueryPerRequest"]
    assert summary["blind"] == ["slow-query"]
    c = FaultRun("oversell", 250, 30, ["switch"])
    cut = Ledger([c])
    cut.injected(c, 250)
    cut.reverted(c, 252, cut_short=True)
    assert cut.summary(260)["blind"] == [] and cut.summary(260)["cut_short_uncaught"] == [
        "oversell"
    ]
    assert summary["firing_at_rest"] == ["RepeatedQueryPerRequest"]
    assert summary["false_positives"] == [
        {"alert": "HighLatencyP99", "started_s": 5, "ended_s": 40, "duration_s": 35},
        {"alert": "QueueBacklog", "started_s": 100, "ended_s": None, "duration_s": 200},
    ]
    assert summary["still_firing_at_end"] == [
        "HighErrorRate",
        "QueueBacklog",
        "RepeatedQueryPerRequest",
    ]


def test_the_report_shows_the_coverage_the_blind_spots_and_the_noise(tmp_path: Path) -> None:
    schedule = draw(CATALOGUE, seed=3, duration_s=300, faults=2,
                    scenarios=["deadlock", "slow-query"])  # fmt: skip
    runs = [FaultRun(s.scenario, s.start_s, s.hold_s, ["a step"]) for s in schedule.slots]
    ledger = Ledger(runs)
    ledger.start(set())
    ledger.observe(1, {"GeventHubBlocked"})
    for run in runs:
        ledger.injected(run, run.planned_start_s)
    deadlock = next(r for r in runs if r.scenario == "deadlock")
    deadlock.alerts["PostgresDeadlocks"] = 3.0
    summary = {"id": "gameday-x", "started_at": "now", "elapsed_s": 300, "scenarios": None,
               "schedule": schedule.to_dict(), **ledger.summary(300)}  # fmt: skip
    text = "\n".join(markdown(summary))
    assert "| deadlock |" in text and "PostgresDeadlocks (3s)" in text
    assert "**none: blind**" in text and "- **slow-query**" in text
    assert "| GeventHubBlocked | +1s | still firing | 299s |" in text
    assert "--seed 3 --duration 300s --faults 2" in text
    log = InjectionLog(tmp_path / "log.jsonl")
    log.write("inject", 1.23, scenario="deadlock")
    with (tmp_path / "log.jsonl").open("a") as cut:
        cut.write('{"event": "revert", "off')  # a line cut short by a kill
    assert [e["event"] for e in read_log(tmp_path / "log.jsonl")] == ["inject"]
    log.close()


# ---------------------------------------------------------------- on the test stack


def _report_folder(root: Path) -> Path:
    (folder,) = root.glob("gameday-*")
    return folder


def _check_nothing_left(stack: Stack, folder: Path) -> list[dict[str, Any]]:
    events = read_log(folder / "injections.jsonl")
    injected = [e["scenario"] for e in events if e["event"] == "inject"]
    reverted = [e["scenario"] for e in events if e["event"] == "revert"]
    assert injected and sorted(injected) == sorted(reverted), events
    assert events[0]["event"] == "start" and events[-1]["event"] == "end"
    assert all({"wall_time", "offset_s"} <= set(e) for e in events)
    assert faults_on(stack) == []
    assert not active_file(stack.settings).exists()
    return events


@pytest.mark.slow
def test_a_short_game_day_credits_the_deadlock_alert_and_leaves_nothing_behind(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    # No settling: an earlier test's invariant alert fires for a minute after it (the day counts
    # it as firing at rest), and this day's faults raise other alerts.
    env = {**cli_env, "FAULTYARD_GAMEDAY_SETTLE_MAX_S": "0"}
    result = faultyard(env, "gameday", "--seed", "6", "--duration", "60s", "--faults", "2",
                       "--scenarios", "deadlock,stale-connections", "--report-dir", str(tmp_path),
                       "--json", timeout_s=240)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    folder = _report_folder(tmp_path)
    assert summary["report_dir"] == str(folder) and summary["interrupted"] is None
    events = _check_nothing_left(stack, folder)
    assert {e["scenario"] for e in events if e["event"] == "inject"} == {
        "deadlock",
        "stale-connections",
    }
    faults = {f["scenario"]: f for f in summary["faults"]}
    deadlock = faults["deadlock"]
    assert deadlock["alerts"], (summary, result.stderr[-3000:])
    assert all(
        0 <= s <= deadlock["hold_s"] + summary["grace_s"] for s in deadlock["alerts"].values()
    )
    assert "deadlock" not in summary["blind"]
    assert json.loads((folder / "gameday.json").read_text())["faults"] == summary["faults"]
    assert "| deadlock |" in (folder / "gameday.md").read_text()


@pytest.mark.slow
def test_a_game_day_stopped_with_sigterm_reverts_everything_and_still_reports(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**cli_env, "FAULTYARD_GAMEDAY_SETTLE_MAX_S": "0"}
    args = ["gameday", "--seed", "1", "--duration", "60s", "--faults", "1",
            "--scenarios", "deadlock", "--report-dir", str(tmp_path / "r"), "--json"]  # fmt: skip
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        day = subprocess.Popen(
            [sys.executable, "-m", "chaos", *args], env=env, stdout=out, stderr=err
        )
        try:
            log = lambda: next((tmp_path / "r").glob("gameday-*/injections.jsonl"), None)  # noqa: E731
            eventually(
                lambda: (path := log()) and '"inject"' in path.read_text(), "the injection", 90
            )
            assert faults_on(stack) and active_file(stack.settings).exists()
            day.send_signal(signal.SIGTERM)
            assert day.wait(60) == 143
        finally:
            if day.poll() is None:
                day.kill()
    summary = json.loads((tmp_path / "out").read_text())
    assert summary["interrupted"] == "SIGTERM" and summary["elapsed_s"] < 60
    folder = _report_folder(tmp_path / "r")
    _check_nothing_left(stack, folder)
    text = (folder / "gameday.md").read_text()
    assert "Interrupted by SIGTERM" in text and "| deadlock |" in text
    (fault,) = summary["faults"]
    assert fault["cut_short"] and fault["reverted_s"] < fault["planned_start_s"] + fault["hold_s"]
    if not fault["alerts"]:  # no fair chance to alert: not called blind
        assert summary["blind"] == [] and summary["cut_short_uncaught"] == ["deadlock"]
