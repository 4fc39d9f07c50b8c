"""Run a scenario end to end: preflight, baseline, inject, observe, rollback, recovery, report.

- preflight: the stack up and healthy; a crashed run's faults undone; any fault
  still on removed (and recorded).
- baseline: shoppers start (Locust); the steady state (the SLO probes) must hold.
- inject: the scenario's faults (with --fixed, the fix's steps in place of the bug's),
  listed in STATE/scenario-active.json first, so a killed runner leaves a trail.
- observe: the probes are polled every second. Default mode: until every symptom
  has held once (the time each took is recorded) or the window ends.
  Fixed mode: the whole window; no symptom may appear, the SLO must hold.
- rollback: always (success, failure, Ctrl-C, SIGTERM, an exception): exactly what
  was injected is removed, then the scenario's rollbacks run (e.g. reload the shop).
- recovery: the steady state must hold again within a bound.
- report: journal.json, report.md and PNG panels in the report folder.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console

from chaos.errors import FaultyardError
from chaos.faults.injector import Injector, Step
from chaos.monitoring.prometheus import PrometheusClient
from chaos.scenarios import verdict
from chaos.scenarios.cleanup import (
    ActiveRun,
    clear_active,
    read_active,
    sweep,
    undo_active,
    write_active,
)
from chaos.scenarios.journal import FaultRecord, Journal, PhaseRecord, ProbeLog, Reading
from chaos.scenarios.load import Load
from chaos.scenarios.model import Probe, Scenario
from chaos.scenarios.monitor import ProbeMonitor
from chaos.scenarios.panel import LineView, LivePanel, View
from chaos.scenarios.report import write_report
from chaos.stack.manager import Stack

EXIT_OK, EXIT_DEVIATED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
TICK_S = 0.25
#: Locust runs past the run's longest possible end, and is stopped when the run is over.
LOAD_MARGIN_S = 30.0


class RunError(FaultyardError):
    """The run cannot go on: the environment failed (the stack, Prometheus, Locust)."""


class Interrupted(BaseException):
    """SIGTERM: stop the run, roll back, report."""


@dataclass(frozen=True)
class RunOptions:
    """How to run a scenario; the CLI's options."""

    fixed: bool = False
    duration_s: float | None = None
    users: int | None = None
    seed: int | None = None
    report_root: Path = Path("reports")
    baseline_min_s: float = 5.0
    baseline_max_s: float = 30.0
    recovery_max_s: float = 45.0
    poll_s: float = 1.0


def report_dir(root: Path, name: str) -> Path:
    """Return a new folder NAME-TIMESTAMP under root (suffixed if that second is taken)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path, n = root / f"{name}-{stamp}", 1
    while path.exists():
        n += 1
        path = root / f"{name}-{stamp}-{n}"
    path.mkdir(parents=True)
    return path


@contextmanager
def shielded() -> Iterator[None]:
    """Ignore Ctrl-C and SIGTERM for a while: rollback must finish once it has started."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _raise_interrupted(_signum: int, _frame: object) -> None:
    raise Interrupted()


class Runner:
    """Runs one scenario once against one stack."""

    def __init__(
        self, scenario: Scenario, stack: Stack, options: RunOptions, journal: Journal, view: View
    ) -> None:
        self.scenario = scenario
        self.stack = stack
        self.options = options
        self.journal = journal
        self.view = view
        self.injector = Injector(stack)
        self.load: Load | None = None
        self.monitor: ProbeMonitor | None = None
        self.applied: list[tuple[FaultRecord, Step]] = []
        self.injected_at: float | None = None
        self.logs: dict[str, tuple[ProbeLog, Probe]] = {}
        for role, probes in (("symptom", scenario.symptoms), ("slo", scenario.slo)):
            for probe in probes:
                log = ProbeLog(
                    probe.name,
                    role,  # type: ignore[arg-type]
                    probe.kind,
                    probe.describe(),
                    probe.description,
                    caused_by_fault=probe.caused_by_fault,
                )
                self.journal.probes[probe.name] = log
                self.logs[probe.name] = (log, probe)
        self._last_refresh = 0.0

    @staticmethod
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

    @property
    def out_dir(self) -> Path:
        assert self.journal.report_dir is not None
        return Path(self.journal.report_dir)

    def _role(self, role: str) -> list[ProbeLog]:
        return [log for log, _probe in self.logs.values() if log.role == role]

    # ------------------------------------------------------------------ the run

    def run(self) -> Journal:
        """Run every phase; the journal's exit_code and verdict say how it went."""
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _raise_interrupted) if main else None
        error: str | None = None
        interrupted = False
        held = False
        try:
            self._preflight()
            held = self._baseline()
            if held:
                self._inject()
                self._observe()
        except (KeyboardInterrupt, Interrupted):
            interrupted = True
        except FaultyardError as exc:
            error = str(exc)
        except Exception as exc:  # a bug: still roll back, report it, and exit 2
            error = f"internal error: {type(exc).__name__}: {exc}"
            self.journal.traceback = traceback.format_exc()
        finally:
            with shielded():
                error = self._finish(held=held, interrupted=interrupted, error=error)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        return self.journal

    def _finish(self, *, held: bool, interrupted: bool, error: str | None) -> str | None:
        """Roll back, recover, stop the load, judge and report, whatever happened before."""
        try:
            self._rollback()
            if held and not interrupted and error is None:
                self._recovery()
        except FaultyardError as exc:
            error = error or str(exc)
        finally:
            if self.monitor is not None:
                self.monitor.stop()
            if self.load is not None:
                self.load.stop()
                self.journal.load = {"users": self.load.users, "stats": self.load.stats()}
            self._verdict(interrupted=interrupted, error=error)
            self._report()
        return error

    def _verdict(self, *, interrupted: bool, error: str | None) -> None:
        journal = self.journal
        if error is not None:
            journal.exit_code, journal.verdict = EXIT_ERROR, f"error: {error}"
        elif interrupted:
            journal.exit_code, journal.verdict = EXIT_INTERRUPTED, "interrupted (rolled back)"
        elif journal.deviations:
            journal.exit_code, journal.verdict = EXIT_DEVIATED, "deviated"
        else:
            journal.exit_code, journal.verdict = EXIT_OK, "as expected"

    @contextmanager
    def _phase(self, name: str) -> Iterator[PhaseRecord]:
        record = self.journal.begin(name)
        try:  # from here on a Ctrl-C, even while the phase starts, still closes its record
            self.journal.save()  # a run killed in this phase shows where it was
            if self.monitor is not None:
                self.monitor.enter(name)
            self.view.phase_started(name)
            yield record
        except (KeyboardInterrupt, Interrupted):
            self.journal.finish(record, "interrupted", error="interrupted (Ctrl-C or SIGTERM)")
            raise
        except FaultyardError as exc:
            self.journal.finish(record, "error", error=str(exc))
            raise
        except Exception as exc:
            self.journal.finish(record, "error", error=f"{type(exc).__name__}: {exc}")
            raise
        else:
            status = "succeeded" if record.status == "running" else record.status
            self.journal.finish(record, status)
        finally:
            self.view.phase_ended(record)

    def _note(self, record: PhaseRecord, text: str) -> None:
        record.output.setdefault("notes", []).append(text)
        self.view.note(text)

    def _tick(self) -> None:
        time.sleep(TICK_S)
        if time.time() - self._last_refresh >= self.options.poll_s:
            self._last_refresh = time.time()
            self.view.refresh()
        if self.load is not None and not self.load.running():
            raise RunError(
                f"Locust stopped early (exit code {self.load.process and self.load.process.returncode}); "
                f"see {self.load.log_file}"
            )

    # ------------------------------------------------------------------ phases

    def _preflight(self) -> None:
        with self._phase("preflight") as record:
            other = read_active(self.stack.settings)
            if other is not None and other.runner_alive():
                raise RunError(
                    f"another scenario run is in progress: {other.scenario} (pid {other.pid}); "
                    "wait for it to finish, or stop it and run `faultyard reset`"
                )
            undone = []
            if other is not None:
                # Before up(): a killed run's damage (a leaked pool) can make a service unhealthy.
                undone = undo_active(self.injector)
            states = self.stack.up()
            # Made again: a state folder created by up() just now holds the admin token.
            self.injector = Injector(self.stack)
            started = [s.name for s in states if s.started]
            record.output["started"] = started
            self._note(
                record,
                f"stack: started {', '.join(started)}"
                if started
                else "stack: running, every service healthy",
            )
            undone += undo_active(self.injector)  # what could not be undone before up()
            removed = sweep(self.injector)
            record.output["undone"], record.output["removed"] = undone, removed
            for line in [*undone, *removed]:
                self._note(record, f"left over: {line}")
            if not undone and not removed:
                self._note(record, "no fault left over")
            PrometheusClient(self.stack.settings.prometheus_url).check()

    def _baseline(self) -> bool:
        with self._phase("baseline") as record:
            settings = self.stack.settings
            duration = self.journal.options["duration_s"]
            self.load = Load(
                profile=self.scenario.load,
                host=settings.shop_url,
                out_dir=self.out_dir,
                users=self.journal.options["users"],
                run_time_s=self.options.baseline_max_s
                + duration
                + self.options.recovery_max_s
                + LOAD_MARGIN_S,
                seed=self.options.seed,
                env={"FAULTYARD_SEED_PRODUCTS": str(settings.seed_products)},
            )
            self.load.start()
            self._note(
                record,
                f"Locust: {self.load.users} users ({', '.join(self.scenario.load.journeys)})",
            )
            self.monitor = ProbeMonitor(
                settings,
                self.journal,
                list(self.logs.values()),
                poll_s=self.options.poll_s,
                on_reading=self._on_reading,
            )
            self.monitor.start()
            if not self._await_steady(
                record,
                min_s=self.options.baseline_min_s,
                max_s=self.options.baseline_max_s,
                failure="the steady state did not hold before injection",
            ):
                # Nothing was injected yet: not a finding about the scenario but about the
                # stack or the machine (exit 2), such as a machine too busy for this load.
                message = self.journal.deviations.pop()
                raise RunError(
                    f"{message}; nothing was injected (a busy machine? try fewer --users)"
                )
            return True

    def _inject(self) -> None:
        with self._phase("inject") as record:
            steps = self.scenario.faults_for(fixed=self.options.fixed)
            write_active(
                self.stack.settings,
                ActiveRun(
                    scenario=self.scenario.name,
                    pid=os.getpid(),
                    started_at=time.time(),
                    steps=[s.model_dump(mode="json") for s in steps],
                    rollbacks=[s.model_dump(mode="json") for s in self.scenario.rollbacks],
                ),
            )
            for step in steps:
                fault = FaultRecord(step.kind, step.describe(), step.model_dump(mode="json"))
                self.journal.faults.append(fault)
                self.applied.append(
                    (fault, step)
                )  # before applying: a half-applied step is undone too
                done = self.injector.apply(step)
                fault.applied_at = time.time()
                self._note(record, f"applied: {done}")
            self.injected_at = time.time()

    def _observe(self) -> None:
        with self._phase("observe") as record:
            assert self.injected_at is not None
            window = float(self.journal.options["duration_s"])
            symptoms = self._role("symptom")
            while time.time() < self.injected_at + window:
                self._tick()
                if not self.options.fixed and all(s.first_held("observe") for s in symptoms):
                    break
            record.output["window_s"] = window
            record.output["observed_s"] = round(time.time() - self.injected_at, 1)
            record.output["time_to_symptom_s"] = {
                log.name: verdict.time_to_symptom(log, self.injected_at) for log in symptoms
            }
            if self.options.fixed:
                deviations, notes = verdict.fixed_deviations(
                    symptoms, self._role("slo"), injected_at=self.injected_at
                )
                for note in notes:
                    self._note(record, note)
            else:
                deviations = verdict.missing_symptoms(symptoms, window)
            self.journal.deviations += deviations
            if deviations:
                record.status = "failed"
                record.error = "; ".join(deviations)

    def _rollback(self) -> None:
        if not self.applied and self.journal.phase("inject") is None:
            return
        with self._phase("rollback") as record:
            failed = []
            for fault, step in reversed(self.applied):
                try:
                    self._note(record, f"reverted: {self.injector.revert(step)}")
                    fault.reverted_at = time.time()
                except FaultyardError as exc:
                    fault.error = str(exc)
                    failed.append(f"{step.describe()}: {exc}")
            for step in self.scenario.rollbacks:
                try:
                    self._note(record, f"rollback: {self.injector.apply(step)}")
                except FaultyardError as exc:
                    failed.append(f"{step.describe()}: {exc}")
            if failed:
                raise RunError(
                    f"rollback could not undo: {'; '.join(failed)}; run `faultyard reset`"
                )
            clear_active(self.stack.settings)

    def _recovery(self) -> None:
        with self._phase("recovery") as record:
            self._await_steady(
                record,
                min_s=0.0,
                max_s=self.options.recovery_max_s,
                failure=f"the steady state did not return within {self.options.recovery_max_s:g}s",
            )

    def _await_steady(
        self, record: PhaseRecord, *, min_s: float, max_s: float, failure: str
    ) -> bool:
        """Wait for the steady state: every SLO probe holds and no symptom shows.

        Both on fresh readings. Symptoms count too: a symptom still showing from an earlier
        run (a backlog draining, a rate window not yet past it) would otherwise be credited
        to the next injection. After max_s, record a deviation.
        """
        assert self.monitor is not None
        slo, symptoms = self._role("slo"), self._role("symptom")
        started = time.time()
        while True:
            self._tick()
            now = time.time()
            since = max(started, now - 2 * self.options.poll_s)  # this phase's, and recent
            if (
                now - started >= min_s
                and self.monitor.all_hold(slo, since=since)
                and self.monitor.none_hold(symptoms, since=since)
            ):
                record.output["steady_after_s"] = round(now - started, 1)
                return True
            if now - started >= max_s:
                message = f"{failure}: {self._unsteady(slo, symptoms, since=since)}"
                self.journal.deviations.append(message)
                record.status, record.error = "failed", message
                return False

    def _report(self) -> None:
        with self._phase("report") as record:
            self.journal.ended_at = time.time()
            files, error = write_report(
                self.journal, self.scenario, self.stack.settings.prometheus_url, self.out_dir
            )
            record.output["files"] = [f.name for f in files]
            if error:
                self._note(record, error)

    # ------------------------------------------------------------------ verdicts

    def _on_reading(self, log: ProbeLog, reading: Reading, previous: Reading | None) -> None:
        """Tell the view when a symptom first appears, and when an SLO breaks or holds again."""
        if reading.phase != "observe" and reading.phase != "recovery":
            return
        if self.injected_at is None:
            return
        offset = reading.at - self.injected_at
        if log.role == "symptom" and reading.phase == "observe":
            if reading.holds and log.first_held("observe") is reading:
                self.view.probe_turned(log, offset, reading.value)
        elif (
            log.role == "slo"
            and previous is not None
            and previous.holds != reading.holds
            and reading.error is None
        ):
            self.view.slo_changed(log, offset, reading)

    def _unsteady(self, slo: list[ProbeLog], symptoms: list[ProbeLog], *, since: float) -> str:
        """Return which SLO probes do not hold and which symptoms still show, in a few words."""
        assert self.monitor is not None
        parts = []
        for log in slo:
            last = self.monitor.latest(log, since=since)
            if last is None:
                parts.append(f"{log.name} (no reading)")
            elif not last.holds:
                parts.append(f"{log.name} ({verdict.shown(last)})")
        for log in symptoms:
            last = self.monitor.latest(log, since=since)
            if last is None:
                parts.append(f"symptom {log.name} (no reading)")
            elif last.error is not None:
                parts.append(f"symptom {log.name} ({last.error})")
            elif last.holds:
                parts.append(f"symptom {log.name} still shows ({verdict.shown(last)})")
        return ", ".join(parts) or "(none)"


def run_scenario(
    scenario: Scenario, stack: Stack, options: RunOptions, *, console: Console, live: bool
) -> Journal:
    """Run a scenario with a live panel (or plain lines) on `console`; return its journal."""
    out_dir = report_dir(options.report_root, scenario.name)
    journal = Runner.new_journal(scenario, options, out_dir)
    view: View = (
        LivePanel(console, journal, scenario, stack.settings.prometheus_url)
        if live
        else LineView(console, journal)
    )
    try:
        return Runner(scenario, stack, options, journal, view).run()
    finally:
        view.close()
