"""The catalogue as a pytest collector, and one item per scenario that runs it.

`chaos` (a child of the session) collects `chaos::NAME[MODE]` for each scenario
of the catalogue (built-in, then FAULTYARD_SCENARIOS_PATH's), or of
--chaos-scenarios. An item runs its scenario through chaos.scenarios.runner and
passes when the runner says the run went as expected (exit code 0). A failing
item's message names each probe that deviated, when, its value against its
limit, and the report. A run ended by Ctrl-C or SIGTERM (rolled back by the
runner) ends the test run (pytest's exit code 2).

Heavy modules (the runner, the catalogue) are imported by the methods, never here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from chaos.regress.stack import StackUnavailable

if TYPE_CHECKING:
    from chaos.regress.session import RegressRun
    from chaos.scenarios.catalogue import Entry
    from chaos.scenarios.journal import Journal
    from chaos.scenarios.model import Scenario
    from chaos.stack.manager import Stack

#: The collector's node id: items are `chaos::NAME[MODE]`.
ROOT = "chaos"
#: An item's warning filters, whatever the test run's (the project's turn warnings into errors):
#: the verdict is the runner's, as with `faultyard scenario`. Warnings are shown, not raised;
#: ResourceWarnings are ignored, as Python does by default: the stack's services outlive the
#: Popen objects that started them, by design.
WARNINGS = ("default", "ignore::ResourceWarning")


class ScenarioFailed(Exception):
    """The scenario did not behave as its mode expects; the message says how."""


def check_names(names: tuple[str, ...]) -> None:
    """Raise UsageError for a name that is not in the catalogue, listing the known ones."""
    if not names:
        return
    from chaos.scenarios.catalogue import load_catalogue
    from chaos.scenarios.model import ScenarioError, UnknownScenarioError

    try:
        known = list(load_catalogue())
    except ScenarioError:
        return  # a broken scenario module: the collector reports it as a collection error
    for name in names:
        if name not in known:
            raise pytest.UsageError(f"--chaos-scenarios: {UnknownScenarioError(name, known)}")


def module_path(entry: Entry) -> Path:
    """Return the file of a scenario's module."""
    if not entry.built_in:
        return Path(entry.where)
    import importlib.util

    spec = importlib.util.find_spec(entry.where)
    assert spec is not None and spec.origin is not None
    return Path(spec.origin)


class Catalogue(pytest.Collector):
    """The scenario catalogue: one item per scenario chosen."""

    def __init__(self, *, run: RegressRun, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run = run

    def collect(self) -> Iterator[ScenarioItem]:
        """Yield one item per scenario, in the catalogue's order (by name)."""
        from chaos.scenarios.catalogue import load_entries

        chosen = self.run.options.scenarios
        for name, entry in load_entries().items():
            if not chosen or name in chosen:
                yield ScenarioItem.from_parent(
                    self,
                    name=f"{name}[{self.run.options.mode}]",
                    path=module_path(entry),
                    scenario=entry.scenario,
                    run=self.run,
                )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        """Show a catalogue error (an invalid scenario module) as its message alone."""
        from chaos.errors import FaultyardError

        if isinstance(excinfo.value, FaultyardError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


def run_once(scenario: Scenario, stack: Stack, run: RegressRun) -> Journal:
    """Run a scenario through the runner, as `faultyard scenario` does; return its journal.

    The item's filterwarnings marker keeps the test run's `error` filter away from the run.
    """
    from rich.console import Console

    from chaos.scenarios.runner import RunOptions, run_scenario

    options = run.options
    run_options = RunOptions(
        fixed=options.fixed,
        duration_s=options.duration_s,
        users=options.users,
        seed=options.seed,
        report_root=options.report_dir,
    )
    return run_scenario(scenario, stack, run_options, console=Console(highlight=False), live=False)


class ScenarioItem(pytest.Item):
    """One scenario, run in the test run's mode."""

    def __init__(self, *, scenario: Scenario, run: RegressRun, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.run = run
        self.add_marker(pytest.mark.chaos)
        self.add_marker(pytest.mark.filterwarnings(*WARNINGS))
        self.extra_keyword_matches.update({scenario.difficulty, run.options.mode})

    def runtest(self) -> None:
        """Run the scenario; fail with what deviated, or end the test run after a signal."""
        from chaos.regress.findings import failure_message
        from chaos.regress.record import failed_record, run_record

        mode = self.run.options.mode
        try:
            stack = self.run.stack.get()
        except StackUnavailable as exc:
            self.run.add(failed_record(self.nodeid, self.scenario.name, mode, str(exc)))
            raise
        journal = run_once(self.scenario, stack, self.run)
        record = run_record(self.nodeid, mode, journal, self.scenario)
        self.run.add(record)
        if record.outcome == "interrupted":
            pytest.exit(f"{self.nodeid}: {journal.verdict}", returncode=pytest.ExitCode.INTERRUPTED)
        if record.outcome != "passed":
            message = failure_message(journal, record.probes, fixed=self.run.options.fixed)
            self.run.failures[self.nodeid] = message
            raise ScenarioFailed(message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:  # type: ignore[override]
        """Show a deviation, or a stack that could not start, as its message alone."""
        if isinstance(excinfo.value, ScenarioFailed | StackUnavailable):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Return where the scenario is declared, and what the item runs."""
        return self.path, None, f"scenario {self.scenario.name} ({self.run.options.mode} mode)"
