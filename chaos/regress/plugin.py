"""Faultyard's pytest plugin (entry point `pytest11: faultyard`): `pytest -m chaos`.

pytest loads this module in every run, the project's own suite included, whose
conftest must let gevent patch the standard library before ssl, psycopg or
requests are imported. So this module imports pytest and the standard library
only; the rest of chaos.regress, and through it the runner, is imported by the
hooks once `-m` selects the `chaos` marker (chaos.regress.options). Without
it the plugin registers the marker and its options, and collects nothing.

With it, the session gets one more child, the `chaos` collector, beside the
paths pytest collects: `pytest -m chaos` collects the project's tests too, and
deselects them. `make regress` gives the path `scenarios/` (no tests there), so
that only the chaos items are collected and no test module is imported.
"""

from __future__ import annotations

import signal
from collections.abc import Generator
from typing import TYPE_CHECKING

import pytest

from chaos.regress.options import MARKER, add_options, read_options

if TYPE_CHECKING:
    from chaos.regress.session import RegressRun

RUN: pytest.StashKey[RegressRun] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: a scenario of the Faultyard catalogue run as a test "
        "(pytest -m chaos [--chaos-mode bug] [--chaos-scenarios a,b])",
    )
    options = read_options(config)
    if options is not None:
        from chaos.regress.session import RegressRun

        config.stash[RUN] = RegressRun(options)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Add the `chaos` collector to the session's children when chaos items are asked for."""
    report = yield
    run = collector.config.stash.get(RUN, None)
    if run is not None and isinstance(collector, pytest.Session) and report.passed:
        from chaos.regress.items import ROOT, Catalogue, check_names

        check_names(run.options.scenarios)
        assert isinstance(report.result, list)
        report.result.append(Catalogue.from_parent(collector, name=ROOT, nodeid=ROOT, run=run))
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Refuse to run chaos items while a drill runs on the stack; let SIGTERM end the run."""
    if RUN not in session.config.stash or session.config.option.collectonly:
        return
    from chaos.regress.items import ScenarioItem
    from chaos.regress.stack import refuse_during_drill

    if any(isinstance(item, ScenarioItem) for item in session.items):
        refuse_during_drill()
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, _frame: object) -> None:
    """SIGTERM between two runs ends the test run as Ctrl-C does (the stack is still released).

    During a run the runner's own handler rolls back first, and the item then ends the test run.
    """
    raise KeyboardInterrupt(signal.Signals(signum).name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep the summary's outcome pytest's when pytest fails an item the runner passed."""
    report = yield
    run = item.config.stash.get(RUN, None)
    if run is not None and report.when == "call" and report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        why = crash.message if crash is not None else report.longreprtext.strip()
        run.pytest_failed(report.nodeid, why.splitlines()[0] if why else "failed")
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the combined journal and the summary; stop the stack if this run started it."""
    run = session.config.stash.get(RUN, None)
    if run is None:
        return
    try:
        run.write(exitstatus=int(exitstatus))
    finally:
        run.stack.release()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """Print the score, one line per scenario, and where the reports are."""
    run = config.stash.get(RUN, None)
    if run is None or not run.records:
        return
    from chaos.regress.summary import terminal_lines

    terminalreporter.section("chaos regression")
    for line in terminal_lines(run.records, run.options.mode):
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"stack: {run.stack.describe()}")
    files = ", ".join(path.name for path in run.written)
    terminalreporter.write_line(f"reports: {run.options.report_dir} ({files})")
