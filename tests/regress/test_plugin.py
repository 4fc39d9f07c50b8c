"""The pytest plugin (chaos.regress): `pytest -m chaos` runs the catalogue as test items.

Each test runs pytest in a child process, in a folder of its own, as a user would.
The runs against a stack use the session's private stack (cli_env), short windows
and few shoppers; the failing run brings up a stack of its own to show that the
plugin starts a stack that is down, and stops it at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chaos.scenarios.catalogue import load_catalogue
from chaos.settings import load_stack_settings
from chaos.stack.manager import Stack
from tests.conftest import PORT_SETTINGS, free_port, port_env, reachable_temp_dir

ROOT = Path(__file__).resolve().parent.parent.parent
CATALOGUE = list(load_catalogue())
#: The child pytest runs outside the project: the project's addopts do not apply to it.
PLUGINS_OFF = ("-p", "no:anyio", "-p", "no:schemathesis", "-p", "no:cacheprovider")
#: Short runs: the baseline settles in 2 s at least, the fixed window lasts 10 s.
SHORT = {"FAULTYARD_RUN_BASELINE_MIN_S": "2"}
SHORT_ARGS = ("--chaos-duration", "10", "--chaos-users", "6")


def pytest_run(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run pytest in a child process in `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", *PLUGINS_OFF, *args],
        cwd=cwd,
        env={**(env or os.environ), **SHORT},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def pytest_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Return the item lines of a verbose run: `nodeid PASSED`, without the progress column."""
    return [re.sub(r"\s+\[\s*\d+%\]$", "", line) for line in result.stdout.splitlines()]


def collected(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Return the node ids `--collect-only -q` listed."""
    return listed(result.stdout)


def listed(output: str) -> list[str]:
    """Return the node ids in the output of `--collect-only -q`."""
    return [line for line in output.splitlines() if "::" in line]


def test_the_plugin_imports_nothing_heavy() -> None:
    """Loaded in every pytest run: gevent must still be able to patch what the suite uses."""
    heavy = ("requests", "urllib3", "ssl", "psycopg", "redis", "gevent", "pydantic", "rich",
             "chaos.scenarios.runner", "chaos.scenarios.catalogue")  # fmt: skip
    code = f"import sys, chaos.regress.plugin\nprint([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_run_without_m_chaos_collects_no_chaos_item(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    for args in ([], ["-m", "not slow"], ["-m", "not chaos"], ["-k", "deadlock or one"]):
        result = pytest_run(tmp_path, "--collect-only", "-q", *args)
        assert collected(result) == ["test_one.py::test_one"], (args, result.stdout)
    # The marker is registered, so --strict-markers accepts `-m chaos`.
    markers = pytest_run(tmp_path, "--markers")
    assert "@pytest.mark.chaos:" in markers.stdout


@pytest.mark.slow
def test_the_projects_suite_collects_the_same_tests_with_the_plugin(tmp_path: Path) -> None:
    """Plain `pytest` (make test) collects exactly what it would without the plugin."""
    # Both at once (each is one core's work for ~15 s): the suite's time, halved. Their
    # output goes to files: this process is gevent's, and its pipes read from two children
    # at once mixed their outputs (one result held both lists).
    outputs = [tmp_path / "with-plugin.txt", tmp_path / "without.txt"]
    children = []
    for output, extra in zip(outputs, [(), ("-p", "no:faultyard")], strict=True):
        with output.open("w") as out:
            children.append(subprocess.Popen(
                [sys.executable, "-m", "pytest", *PLUGINS_OFF, "--collect-only", "-q", *extra],
                cwd=ROOT, env={**os.environ, **SHORT}, stdout=out, stderr=subprocess.STDOUT,
            ))  # fmt: skip
    for child in children:
        child.wait(timeout=240)
    with_plugin, without = (listed(output.read_text()) for output in outputs)
    assert with_plugin == without, outputs[0].read_text()[-2000:]
    assert len(with_plugin) > 100
    assert not [n for n in with_plugin if n.startswith("chaos::")]


def test_m_chaos_collects_one_item_per_scenario(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    result = pytest_run(tmp_path, "-m", "chaos", "--collect-only", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert collected(result) == [f"chaos::{name}[fixed]" for name in CATALOGUE]
    assert "(1 deselected)" in result.stdout  # the test file's test
    chosen = pytest_run(
        tmp_path, "-m", "chaos and not slow", "--collect-only", "-q", "--chaos-mode", "bug",
        "--chaos-scenarios", "deadlock,slow-query", "--chaos-scenarios", "oversell",
        "-k", "dead or over",
    )  # fmt: skip
    assert collected(chosen) == ["chaos::deadlock[bug]", "chaos::oversell[bug]"], chosen.stdout
    assert not list(tmp_path.glob("reports")), "collecting writes no report"


def test_an_unknown_scenario_is_a_usage_error_listing_the_known_ones(tmp_path: Path) -> None:
    result = pytest_run(tmp_path, "-m", "chaos", "--chaos-scenarios", "deadlock,nope")
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"unknown scenario 'nope'; known: {', '.join(CATALOGUE)}" in result.stderr


def test_chaos_options_without_m_chaos_are_a_usage_error(tmp_path: Path) -> None:
    result = pytest_run(tmp_path, "--chaos-scenarios", "deadlock")
    assert result.returncode == 4
    assert "add -m chaos" in result.stderr


def read_run(report_dir: Path) -> tuple[dict[str, object], ET.Element]:
    """Return the combined journal and the JUnit XML of a run."""
    journal = json.loads((report_dir / "journal.json").read_text())
    return journal, ET.parse(report_dir / "junit.xml").getroot()


@pytest.mark.slow
def test_fixed_mode_passes_and_writes_junit_journal_and_summary(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = pytest_run(
        tmp_path, "-m", "chaos", "--chaos-scenarios", "deadlock", *SHORT_ARGS,
        f"--chaos-report-dir={out}", f"--junitxml={out}/junit.xml", env=cli_env, timeout_s=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    journal, junit = read_run(out)
    cases = junit.findall(".//testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [("chaos", "deadlock[fixed]")]
    assert not cases[0].findall("failure") and not cases[0].findall("error")
    assert journal["mode"] == "fixed" and journal["exitstatus"] == 0
    assert journal["score"] == {
        "passed": 1, "total": 1, "share": 1.0,
        "headline": "resilience score 100%: 1 of 1 scenarios held their SLO",
    }  # fmt: skip
    (item,) = journal["items"]  # type: ignore[misc]
    assert item["outcome"] == "passed" and item["verdict"] == "as expected"
    slo = {p["name"]: p for p in item["probes"] if p["role"] == "slo"}
    assert set(slo) == {p.name for p in load_catalogue()["deadlock"].slo}
    assert all(p["readings"] >= 8 and p["turned_at_s"] is None for p in slo.values())
    assert slo["checkout_p99_below_deadlock_timeout"]["limit"] == "< 1"
    assert item["readings"]["no_deadlocks"][0][1] == "baseline"
    report = Path(item["report_dir"])
    assert report.parent == out and (report / "report.md").is_file()
    summary = (out / "summary.md").read_text()
    assert "# Chaos regression: resilience score 100%: 1 of 1 scenarios held their SLO" in summary
    assert re.search(
        r"\| deadlock \| checkout_p99_below_deadlock_timeout \| `< 1` \| [0-9.]+ \| \d+%", summary
    )
    assert f"[report]({report.name}/report.md)" in summary
    # Every business invariant, read after recovery, none broken.
    assert {c["name"]: c["count"] for c in item["invariants"]} == dict.fromkeys(
        ("oversold_units", "duplicate_orders", "lost_events", "duplicate_payments",
         "orders_stuck_unpaid"), 0
    )  # fmt: skip
    assert "## Business invariants" in summary and "| deadlock | 0 | 0 | 0 | 0 | 0 |" in summary
    assert "resilience score 100%: 1 of 1 scenarios held their SLO" in result.stdout
    # The stack was up: the plugin left it running.
    assert "stack: already running" in result.stdout and "left running" in result.stdout
    assert all(state.healthy for state in stack.status())


@pytest.mark.slow
def test_bug_mode_passes_when_every_symptom_shows(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = pytest_run(
        tmp_path, "-m", "chaos", "--chaos-mode", "bug", "--chaos-scenarios", "deadlock",
        "--chaos-duration", "30", "--chaos-users", "12", f"--chaos-report-dir={out}",
        f"--junitxml={out}/junit.xml", env=cli_env, timeout_s=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    journal, junit = read_run(out)
    assert [c.get("name") for c in junit.findall(".//testcase")] == ["deadlock[bug]"]
    (item,) = journal["items"]  # type: ignore[misc]
    assert item["mode"] == "bug" and item["outcome"] == "passed"
    symptoms = [p for p in item["probes"] if p["role"] == "symptom"]
    assert symptoms and all(p["turned_at_s"] is not None for p in symptoms), symptoms
    summary = (out / "summary.md").read_text()
    assert "symptom score 100%: 1 of 1 scenarios showed every symptom" in summary
    assert "## Symptoms: when each appeared after the injection" in summary
    # Reported, not judged: the bugs break them on purpose.
    assert len(item["invariants"]) == 5 and "reported, not judged" in summary


#: A scenario of a user's own, kept outside the repo: a latency toxic on the Redis link (which
#: no fix removes), a fix (a setting), and the probes NAME chooses.
USER_SCENARIO = """
from chaos.scenarios.model import (
    AnswerKey, Guide, Link, LoadProfile, PromQLProbe, Scenario, Series, Setting, SQLProbe, Toxic,
)

TOXIC_ON_REDIS = 'sum(faultyard_fault_active{{kind="toxic",target="redis"}}) or vector(0)'
SCENARIO = Scenario(
    name="{name}",
    title="A latency toxic on the Redis link",
    difficulty="beginner",
    page="Everything that touches the queue is a little slower.",
    faults=(Toxic(proxy="redis", type="latency", attributes={{"latency": 20}}),),
    fix=(Setting(name="catalog_cache_ttl_s", value=5),),
    load=LoadProfile(users=2, spawn_rate=2, duration_s=10, journeys={{"Browser": 1}}),
    symptoms=({symptom},),
    slo=({slo},),
    key_series=(Series(title="Faults on", expr="sum(faultyard_faults_active)"),),
    guide=Guide(
        where_to_look=("The toxics on each proxy.",),
        what_you_will_see=("A latency toxic on the redis proxy.",),
        root_cause="Every Redis round trip waits for the toxic.",
        fix="Remove the toxic.",
        further_reading=(Link(title="Toxics", url="https://github.com/Shopify/toxiproxy"),),
    ),
    answer=AnswerKey(
        component="network", root_cause="slow-redis-link", keywords=("redis",),
        choices=("Redis answers late", "PostgreSQL answers late", "The shop is overloaded"),
        correct_choice=0,
    ),
)
"""
#: Its fix works: no symptom of the bug shows (none ever does), the SLO (Prometheus answers) holds.
CLEAN_FIX = USER_SCENARIO.format(
    name="clean-fix",
    symptom='SQLProbe(name="never", sql="SELECT 0", comparator=">", threshold=0, '
    'description="never shows")',
    slo='PromQLProbe(name="prometheus_answers", expr="vector(1)", comparator=">", threshold=0, '
    'description="Prometheus answers")',
)
#: Its fix leaves the harm in place: the toxic stays, and the SLO says no toxic may be on the link.
FIX_THAT_FIXES_NOTHING = USER_SCENARIO.format(
    name="fix-that-fixes-nothing",
    symptom='PromQLProbe(name="redis_link_slowed", expr=TOXIC_ON_REDIS, comparator=">", '
    'threshold=0, description="a toxic slows the Redis link")',
    slo='PromQLProbe(name="redis_link_clean", expr=TOXIC_ON_REDIS, comparator="==", '
    'threshold=0, description="no toxic on the Redis link")',
)


@pytest.mark.slow
def test_a_failing_item_names_the_slo_when_its_value_and_the_report(tmp_path: Path) -> None:
    """On a stack of its own, down before the run: the plugin starts it in the first item
    (which passes: starting the stack fails no item), and stops it at the end."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "clean_fix.py").write_text(CLEAN_FIX)
    (mine / "fix_that_fixes_nothing.py").write_text(FIX_THAT_FIXES_NOTHING)
    settings = load_stack_settings(
        state_dir=reachable_temp_dir("faultyard-regress-"),
        **{name: free_port() for name in PORT_SETTINGS},
    )
    env = {**os.environ, **port_env(settings), "FAULTYARD_SCENARIOS_PATH": str(mine)}
    out = tmp_path / "out"
    try:
        result = pytest_run(
            tmp_path, "-v", "-m", "chaos", "--chaos-scenarios", "fix-that-fixes-nothing,clean-fix",
            "--chaos-duration", "8", f"--chaos-report-dir={out}", f"--junitxml={out}/junit.xml",
            env=env, timeout_s=300,
        )  # fmt: skip
        states = Stack(settings).status()
    finally:
        Stack(settings).down()
        shutil.rmtree(settings.state_path, ignore_errors=True)
    assert result.returncode == 1, result.stdout[-4000:]
    assert "chaos::clean-fix[fixed] PASSED" in pytest_lines(result)
    report = next(out.glob("fix-that-fixes-nothing-*"))
    broke = re.compile(
        r"SLO redis_link_clean broke at \+\d+\.\ds into observe: 1 \(limit == 0\); "
        r"worst 1; held \d+ of \d+ readings"
    )
    assert broke.search(result.stdout), result.stdout[-4000:]
    assert f"runner exit code 1; report: {report}/report.md" in result.stdout
    # The first line, which pytest's short summary shows, says what broke.
    assert re.search(
        r"fix-that-fixes-nothing \(fixed mode\) deviated: SLO redis_link_clean broke at "
        r"\+\d+\.\ds: 1 \(limit == 0\); symptom redis_link_slowed showed at ",
        result.stdout,
    )
    cases = ET.parse(out / "junit.xml").getroot().findall(".//testcase")
    assert [len(case.findall("failure")) for case in cases] == [0, 1]
    assert broke.search(cases[1].findall("failure")[0].get("message", ""))
    journal = json.loads((out / "journal.json").read_text())
    assert journal["score"]["share"] == 0.5 and journal["exitstatus"] == 1
    summary = (out / "summary.md").read_text()
    assert "resilience score 50%: 1 of 2 scenarios held their SLO" in summary
    assert "## Failures" in summary and broke.search(summary)
    # The stack was down: the plugin started it, and stopped it at the end.
    assert "stack: started by this run" in result.stdout
    assert not any(state.running for state in states), states
