"""Run a scenario end to end: preflight, baseline, inject, observe, rollback, recovery, report.

One module per phase (chaos/scenarios/phases/); this one sequences them. Rollback
always runs, whatever ended the phases before it (success, a deviation, an error,
Ctrl-C or SIGTERM), and so does the report. See chaos/scenarios/signals.py for
what a signal does at each moment of a run.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console

from chaos.errors import FaultyardError
from chaos.faults.injector import Injector
from chaos.scenarios import events
from chaos.scenarios.journal import Journal, ProbeLog
from chaos.scenarios.model import Scenario
from chaos.scenarios.panel import LineView, LivePanel, View
from chaos.scenarios.phases import baseline, inject, observe, preflight, recovery, report, rollback
from chaos.scenarios.phases.context import RunContext, RunError
from chaos.scenarios.run_index import RunEntry, record_run, this_process_started
from chaos.scenarios.signals import Interrupted
from chaos.stack.manager import Stack

__all__ = ["RunError", "RunOptions", "run_scenario"]

EXIT_OK, EXIT_DEVIATED, EXIT_ERROR = 0, 1, 2


class RunTimings(BaseSettings):
    """How long a run waits for the steady state and how often it polls (FAULTYARD_RUN_*)."""

    model_config = SettingsConfigDict(env_prefix="FAULTYARD_RUN_", extra="ignore")

    baseline_min_s: float = Field(5.0, ge=0)
    baseline_max_s: float = Field(30.0, gt=0)
    recovery_max_s: float = Field(45.0, gt=0)
    poll_s: float = Field(1.0, gt=0)


def _timing(name: str) -> float:
    return float(getattr(RunTimings(), name))


@dataclass(frozen=True)
class RunOptions:
    """How to run a scenario; the CLI's options."""

    fixed: bool = False
    duration_s: float | None = None
    users: int | None = None
    seed: int | None = None
    report_root: Path = Path("reports")
    baseline_min_s: float = field(default_factory=lambda: _timing("baseline_min_s"))
    baseline_max_s: float = field(default_factory=lambda: _timing("baseline_max_s"))
    recovery_max_s: float = field(default_factory=lambda: _timing("recovery_max_s"))
    poll_s: float = field(default_factory=lambda: _timing("poll_s"))


def report_dir(root: Path, name: str) -> Path:
    """Return a new folder NAME-TIMESTAMP under root (suffixed if that second is taken)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path, n = root / f"{name}-{stamp}", 1
    while path.exists():
        n += 1
        path = root / f"{name}-{stamp}-{n}"
    path.mkdir(parents=True)
    return path


def new_journal(scenario: Scenario, options: RunOptions, out_dir: Path) -> Journal:
    """Return the journal of a run about to start, saved in out_dir/journal.json."""
    journal = Journal(
        scenario=scenario.name,
        mode="fixed" if options.fixed else "default",
        options={
            "duration_s": options.duration_s or scenario.load.duration_s,
            "users": options.users or scenario.load.users,
            "seed": options.seed,
        },
        definition=scenario.model_dump(mode="json"),
        report_dir=str(out_dir),
    )
    journal.path = out_dir / "journal.json"
    journal.save()
    return journal


def _context(
    scenario: Scenario, stack: Stack, options: RunOptions, journal: Journal, view: View
) -> RunContext:
    ctx = RunContext(scenario, stack, options, journal, view, Injector(stack))
    for role, probes in (("symptom", scenario.symptoms), ("slo", scenario.slo)):
        for probe in probes:
            log = ProbeLog(
                probe.name, role, probe.kind, probe.describe(), probe.description,  # type: ignore[arg-type]
                caused_by_fault=probe.caused_by_fault,
            )  # fmt: skip
            journal.probes[probe.name] = log
            ctx.logs[probe.name] = (log, probe)
    return ctx


def run(ctx: RunContext) -> Journal:
    """Run every phase; the journal's exit_code and verdict say how it went."""
    ctx.signals.install()
    held, error = False, None
    try:
        try:
            preflight.run(ctx)
            baseline.run(ctx)
            held = True
            inject.run(ctx)
            observe.run(ctx)
        except Interrupted:
            pass  # recorded by the signals and by the phase that was cut short
        except KeyboardInterrupt:  # Python's own handler: our handlers are not installed here
            ctx.signals.note_keyboard_interrupt()
        except FaultyardError as exc:
            error = str(exc)
        except Exception as exc:  # a bug: still roll back, report it, and exit 2
            error = f"internal error: {type(exc).__name__}: {exc}"
            ctx.journal.traceback = traceback.format_exc()
        error = _finish(ctx, held=held, error=error)
    finally:
        ctx.signals.restore()
    return ctx.journal


def _finish(ctx: RunContext, *, held: bool, error: str | None) -> str | None:
    """Roll back, recover, stop the load, judge and report, whatever happened before."""
    try:
        rollback.run(ctx)
        if held and ctx.signals.received is None and error is None:
            recovery.run(ctx)
    except Interrupted:
        pass  # during recovery: the run ends now, rolled back
    except FaultyardError as exc:
        error = error or str(exc)
    finally:
        if ctx.monitor is not None:
            ctx.monitor.stop()
        if ctx.load is not None:
            events.load_stopping.fire()
            ctx.load.stop()
            ctx.journal.load = {"users": ctx.load.users, "stats": ctx.load.stats()}
        _verdict(ctx, error=error)
        report.run(ctx)
        _verdict(ctx, error=error)  # a signal during the report still ends the run as one
        ctx.journal.save()
    return error


def _verdict(ctx: RunContext, *, error: str | None) -> None:
    journal, signals = ctx.journal, ctx.signals
    if error is not None:
        journal.exit_code, journal.verdict = EXIT_ERROR, f"error: {error}"
    elif signals.exit_code is not None:
        journal.exit_code = signals.exit_code
        journal.verdict = f"interrupted by {signals.name} (rolled back)"
    elif journal.deviations:
        journal.exit_code, journal.verdict = EXIT_DEVIATED, "deviated"
    else:
        journal.exit_code, journal.verdict = EXIT_OK, "as expected"


def run_scenario(
    scenario: Scenario, stack: Stack, options: RunOptions, *, console: Console, live: bool
) -> Journal:
    """Run a scenario with a live panel (or plain lines) on `console`; return its journal."""
    out_dir = report_dir(options.report_root, scenario.name)
    journal = new_journal(scenario, options, out_dir)
    assert journal.path is not None
    record_run(stack.settings, RunEntry(
        id=out_dir.name, scenario=scenario.name, mode=journal.mode, started_at=journal.started_at,
        journal=str(journal.path.resolve()), pid=os.getpid(), pid_started=this_process_started(),
    ))  # fmt: skip
    view: View = (
        LivePanel(console, journal, scenario, stack.settings.prometheus_url)
        if live
        else LineView(console, journal)
    )
    try:
        return run(_context(scenario, stack, options, journal, view))
    finally:
        view.close()
