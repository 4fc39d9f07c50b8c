"""What every phase of a run shares: the scenario, the stack, the journal, and how a phase is kept."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.errors import FaultyardError
from chaos.scenarios import events, verdict
from chaos.scenarios.invariants import RunInvariants
from chaos.scenarios.journal import FaultRecord, Journal, PhaseRecord, ProbeLog
from chaos.scenarios.load import Load
from chaos.scenarios.model import Probe, Scenario
from chaos.scenarios.monitor import ProbeMonitor
from chaos.scenarios.panel import View
from chaos.scenarios.signals import Interrupted, RunSignals
from chaos.stack.manager import Stack

if TYPE_CHECKING:
    from chaos.faults.injector import Injector, Step
    from chaos.scenarios.runner import RunOptions

TICK_S = 0.25
#: Locust runs past the run's longest possible end, and is stopped when the run is over.
LOAD_MARGIN_S = 30.0


class RunError(FaultyardError):
    """The run cannot go on: the environment failed (the stack, Prometheus, Locust)."""


@dataclass
class RunContext:
    """One run's state, handed from phase to phase."""

    scenario: Scenario
    stack: Stack
    options: RunOptions
    journal: Journal
    view: View
    injector: Injector
    signals: RunSignals = field(default_factory=RunSignals)
    load: Load | None = None
    monitor: ProbeMonitor | None = None
    applied: list[tuple[FaultRecord, Step]] = field(default_factory=list)
    injected_at: float | None = None
    logs: dict[str, tuple[ProbeLog, Probe]] = field(default_factory=dict)
    last_refresh: float = 0.0
    #: Set at the end of preflight: reads the business invariants over the run.
    invariants: RunInvariants | None = None

    @property
    def out_dir(self) -> Path:
        """Return the run's report folder."""
        assert self.journal.report_dir is not None
        return Path(self.journal.report_dir)

    def role(self, role: str) -> list[ProbeLog]:
        """Return the logs of the symptom probes, or of the SLO probes."""
        return [log for log, _probe in self.logs.values() if log.role == role]

    @contextmanager
    def phase(self, name: str, *, interruptible: bool) -> Iterator[PhaseRecord]:
        """Keep one phase's record: its start, its end and how it ended, whatever happens."""
        record = self.journal.begin(name)
        try:  # from here on a signal, even while the phase starts, still closes its record
            self.journal.save()  # a run killed in this phase shows where it was
            if self.monitor is not None:
                self.monitor.enter(name)
            self.view.phase_started(name)
            events.phase_started.fire(name=name)
            if interruptible:
                with self.signals.interruptible_phase():
                    yield record
            else:
                yield record
        except (Interrupted, KeyboardInterrupt) as exc:
            signal_name = str(exc) or "SIGINT"
            self.journal.finish(record, "interrupted", error=f"interrupted ({signal_name})")
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
            events.phase_ended.fire(name=name, status=record.status)

    def note(self, record: PhaseRecord, text: str) -> None:
        """Add a line to a phase's notes, and show it."""
        record.output.setdefault("notes", []).append(text)
        self.view.note(text)

    def tick(self) -> None:
        """Wait a moment; refresh the view each poll; fail if Locust stopped early."""
        time.sleep(TICK_S)
        if time.time() - self.last_refresh >= self.options.poll_s:
            self.last_refresh = time.time()
            self.view.refresh()
        if self.load is not None and not self.load.running():
            code = self.load.process and self.load.process.returncode
            raise RunError(f"Locust stopped early (exit code {code}); see {self.load.log_file}")

    def await_steady(
        self, record: PhaseRecord, *, min_s: float, max_s: float, failure: str
    ) -> bool:
        """Wait for the steady state: every SLO probe holds and no symptom shows.

        Both on fresh readings. Symptoms count too: a symptom still showing from an earlier
        run (a backlog draining, a rate window not yet past it) would otherwise be credited
        to the next injection. After max_s, record a deviation.
        """
        assert self.monitor is not None
        slo, symptoms = self.role("slo"), self.role("symptom")
        started = time.time()
        while True:
            self.tick()
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
                message = f"{failure}: {self.unsteady(slo, symptoms, since=since)}"
                self.journal.deviations.append(message)
                record.status, record.error = "failed", message
                return False

    def unsteady(self, slo: list[ProbeLog], symptoms: list[ProbeLog], *, since: float) -> str:
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
