"""`faultyard scenario NAME` for real against the session stack: both modes, a killed runner, errors."""

from __future__ import annotations

import io
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from chaos.scenarios.catalogue import get_scenario, load_catalogue
from chaos.scenarios.cleanup import active_file
from chaos.scenarios.journal import PHASES
from chaos.scenarios.model import PromQLProbe
from chaos.scenarios.runner import RunOptions
from chaos.scenarios.runner import run_scenario as run_scenario_in_process
from chaos.settings import load_stack_settings
from chaos.stack.manager import Stack
from chaos.toxiproxy import ToxiproxyClient
from target_app.config import load_settings as load_shop_settings
from target_app.runtime_settings import RuntimeSettings
from target_app.switches import SwitchBoard
from tests.conftest import PORT_SETTINGS, faultyard, free_port, port_env

pytestmark = pytest.mark.slow

CATALOGUE = load_catalogue()
#: Short runs: each scenario's own load and window, at most this many shoppers (default mode
#: ends as soon as every symptom has shown; fixed mode observes the whole FIXED_WINDOW_S).
MAX_USERS = 16


def short_run(name: str) -> list[str]:
    """Return the options of a short run of a scenario: its own window, few shoppers."""
    load = CATALOGUE[name].load
    return ["--users", str(min(load.users, MAX_USERS)), "--duration", f"{load.duration_s:g}"]


FIXED_WINDOW_S = "10"
#: The shortest steady state that still proves one: three readings a second apart with no
#: symptom and every SLO held (a run's default waits 5 s).
BASELINE_MIN_S = "3"


def faults_on(stack: Stack) -> list[str]:
    """Return every fault the stack shows: toxics, disabled proxies, switches, settings."""
    shop = load_shop_settings({"state_dir": stack.settings.state_path})
    proxies = ToxiproxyClient(stack.settings.toxiproxy_api_url).proxies().values()
    found = [f"toxic {t.name} on {p.name}" for p in proxies for t in p.toxics]
    found += [f"proxy {p.name} down" for p in proxies if not p.enabled]
    found += [f"switch {n}" for n, on in SwitchBoard(shop.switches_file).states().items() if on]
    found += [f"setting {n}" for n in RuntimeSettings(shop.runtime_settings_file).overrides()]
    return found


def run_scenario(
    env: dict[str, str], reports: Path, name: str, *args: str
) -> tuple[int, dict[str, Any], Path]:
    """Run a scenario with --json; return its exit code, journal and report folder."""
    env = {**env, "FAULTYARD_RUN_BASELINE_MIN_S": BASELINE_MIN_S}
    result = faultyard(
        env, "scenario", name, "--json", "--report-dir", str(reports), *args, timeout_s=240
    )
    assert result.stdout.startswith("{"), result.stderr[-3000:]
    journal = json.loads(result.stdout)
    return result.returncode, journal, Path(journal["report_dir"])


INVARIANTS = [
    "oversold_units",
    "duplicate_orders",
    "lost_events",
    "duplicate_payments",
    "orders_stuck_unpaid",
]
#: The invariant each of these scenarios' bugs breaks.
BROKEN_BY_THE_BUG = {
    "oversell": "oversold_units",
    "duplicate-orders": "duplicate_orders",
    "redis-outage": "lost_events",
}


def check_run(stack: Stack, journal: dict[str, Any], folder: Path, name: str) -> None:
    """What every successful run must show, whatever its mode."""
    phases = journal["phases"]
    assert [p["name"] for p in phases] == list(PHASES)
    assert [p["status"] for p in phases] == ["succeeded"] * len(PHASES), phases
    assert all(f["applied_at"] and f["reverted_at"] for f in journal["faults"])
    scenario = get_scenario(name)
    fixed = journal["mode"] == "fixed"
    assert [f["spec"] for f in journal["faults"]] == [
        s.model_dump(mode="json") for s in scenario.faults_for(fixed=fixed)
    ]
    assert {p["name"] for p in phases if p["name"] == "rollback"} == {"rollback"}
    # The report folder: journal, Markdown, Locust's stats, one PNG per key series.
    assert json.loads((folder / "journal.json").read_text())["exit_code"] == journal["exit_code"]
    report = (folder / "report.md").read_text()
    for heading in ("## What was injected, and when", "## What each probe saw", "## Load (Locust)",
                    "## Diagnosis guide", scenario.guide.root_cause[:60]):  # fmt: skip
        assert heading in report
    assert "verdict: **as expected** (exit code 0)" in report
    assert (folder / "locust_stats.csv").stat().st_size > 0
    assert len(list(folder.glob("*.png"))) == len(scenario.key_series)
    assert journal["load"]["stats"]["requests"], "Locust's stats are in the journal"
    # The business invariants, read after recovery: none broken with the fix on; with the
    # bug on, the one the bug breaks on purpose grew.
    counts = {c["name"]: c["count"] for c in journal["invariants"]}
    assert list(counts) == INVARIANTS, journal["invariants"]
    if fixed:
        assert set(counts.values()) == {0}, journal["invariants"]
    elif name in BROKEN_BY_THE_BUG:
        assert counts[BROKEN_BY_THE_BUG[name]] > 0, journal["invariants"]
    assert "## Business invariants" in report
    # Nothing left behind.
    assert faults_on(stack) == []
    assert not active_file(stack.settings).exists()


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_default_mode_shows_every_symptom(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path, name: str
) -> None:
    code, journal, folder = run_scenario(cli_env, tmp_path, name, *short_run(name))
    assert code == 0, (journal["verdict"], journal["deviations"])
    check_run(stack, journal, folder, name)
    observe = next(p for p in journal["phases"] if p["name"] == "observe")
    turned = observe["output"]["time_to_symptom_s"]
    # The steady state before injection: no symptom showed yet.
    for probe in journal["probes"].values():
        baseline = [r for r in probe["readings"] if r["phase"] == "baseline"]
        if probe["role"] == "symptom":
            assert baseline and not baseline[-1]["holds"], (probe["name"], baseline[-1:])
    assert set(turned) == {p.name for p in get_scenario(name).symptoms}
    assert all(seconds is not None and seconds >= 0 for seconds in turned.values()), turned
    for probe in journal["probes"].values():
        if probe["role"] == "symptom":
            assert any(r["holds"] for r in probe["readings"] if r["phase"] == "observe")


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_fixed_mode_holds_the_slo_under_the_same_fault(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path, name: str
) -> None:
    code, journal, folder = run_scenario(
        cli_env, tmp_path, name, "--fixed", *short_run(name), "--duration", FIXED_WINDOW_S
    )
    assert code == 0, (journal["verdict"], journal["deviations"])
    check_run(stack, journal, folder, name)
    assert journal["mode"] == "fixed" and journal["deviations"] == []
    for probe in journal["probes"].values():
        observed = [r for r in probe["readings"] if r["phase"] == "observe"]
        assert len(observed) >= int(FIXED_WINDOW_S) - 2, probe["name"]  # polled all along
        if probe["role"] == "slo":
            broken = [r for r in observed if r["error"] is None and not r["holds"]]
            assert len(broken) <= len(observed) // 4, (probe["name"], broken)
    # The bug's own symptoms stay away with the fix on: a lone blip at most, as judged.
    for symptom in get_scenario(name).symptoms:
        logged = journal["probes"][symptom.name]
        assert logged["caused_by_fault"] == symptom.caused_by_fault
        if not symptom.caused_by_fault:
            held = [r for r in logged["readings"] if r["phase"] == "observe" and r["holds"]]
            assert len(held) <= 1, (symptom.name, held)


def runner_children(marker: str) -> list[int]:
    """Return live processes whose command line names `marker` (the run's report folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if marker in cmdline and state != "Z":
                found.append(int(entry.name))
    return found


def observing(reports: Path) -> bool:
    """Return whether the run writing into `reports` has started its observe phase."""
    for journal in reports.glob("*/journal.json"):
        try:
            phases = json.loads(journal.read_text())["phases"]
        except ValueError:
            return False
        return any(p["name"] == "observe" for p in phases)
    return False


def test_unknown_scenario_lists_the_known_ones(tmp_path: Path) -> None:
    env = {**os.environ, "FAULTYARD_STATE_DIR": str(tmp_path / "state")}
    result = faultyard(env, "scenario", "no-such", "--report-dir", str(tmp_path), timeout_s=60)
    assert result.returncode == 2
    assert f"unknown scenario 'no-such'; known: {', '.join(CATALOGUE)}" in result.stderr
    assert not list(tmp_path.glob("no-such-*"))


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_stack_that_cannot_start_says_which_service_and_why(
    tmp_path: Path, taken_port: int
) -> None:
    settings = load_stack_settings(
        state_dir=tmp_path / "state", **{name: free_port() for name in PORT_SETTINGS}
    )
    env = {**os.environ, **port_env(settings), "FAULTYARD_PG_PORT": str(taken_port)}
    result = faultyard(
        env, "scenario", "deadlock", "--report-dir", str(tmp_path / "r"), timeout_s=60
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"port {taken_port} for postgres is already in use" in result.stdout + result.stderr
    journal = json.loads(next((tmp_path / "r").glob("deadlock-*/journal.json")).read_text())
    assert journal["exit_code"] == 2
    assert journal["phases"][0]["name"] == "preflight"
    assert journal["phases"][0]["status"] == "error"
    assert journal["faults"] == []


def test_a_baseline_that_never_settles_is_an_environment_error(
    stack: Stack, tmp_path: Path
) -> None:
    """Nothing injected yet: the run says the stack or the machine was not steady (exit 2),
    not that the scenario deviated."""
    never = PromQLProbe(
        name="never_holds", expr="vector(1)", comparator="<", threshold=0, description="never"
    )
    scenario = get_scenario("deadlock").model_copy(update={"slo": (never,)})
    options = RunOptions(users=2, report_root=tmp_path, baseline_min_s=1, baseline_max_s=4)
    journal = run_scenario_in_process(
        scenario, stack, options, console=Console(file=io.StringIO()), live=False
    )
    assert journal.exit_code == 2
    assert journal.verdict.startswith("error: the steady state did not hold before injection")
    assert "never_holds" in journal.verdict and "nothing was injected" in journal.verdict
    assert journal.deviations == []
    statuses = {p.name: p.status for p in journal.phases}
    assert statuses["baseline"] == "error" and "inject" not in statuses
    assert faults_on(stack) == []
