"""Running a game day: one load for the whole day, the schedule's faults in and out on time.

The stack comes up, leftovers of a killed run are undone, and the alerts of an
earlier run get a while to resolve. Then the shoppers start (one Locust load:
each scheduled scenario's shoppers together), the alerts firing at that moment
are noted as firing at rest, and the loop ticks every second: faults whose time
is up are reverted (their steps undone, their rollbacks run), faults whose time
has come are injected, and Prometheus's firing alerts are read and credited
(chaos/drill/gameday_ledger.py).

Crash safety: before a fault goes in, the active-run file lists it with every
other fault on (chaos/scenarios/cleanup.py), so `faultyard reset` or the next
run's preflight undoes a game day killed with SIGKILL. Ctrl-C or SIGTERM end
the loop within a second: everything is reverted and the report written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from chaos.drill import gameday_report
from chaos.drill.alerts import POLL_S, firing, settle
from chaos.drill.gameday_ledger import FaultRun, InjectionLog, Ledger
from chaos.drill.gameday_schedule import Schedule
from chaos.errors import FaultyardError
from chaos.faults.injector import Injector
from chaos.monitoring.prometheus import PrometheusClient, PrometheusError
from chaos.scenarios.cleanup import ActiveRun, clear_active, read_active, undo_active, write_active
from chaos.scenarios.load import Load
from chaos.scenarios.model import FaultStep, LoadProfile, Scenario
from chaos.scenarios.signals import Interrupted, RunSignals
from chaos.settings import StackSettings
from chaos.stack.manager import Stack

ACTIVE_NAME = "gameday"  # what the active-run file names
LOG_NAME = "injections.jsonl"
#: Shoppers at most: the load runs all day on a small machine, beside the stack.
MAX_USERS = 24
#: Before the day starts, the longest wait for an earlier run's alerts to resolve
#: (FAULTYARD_GAMEDAY_SETTLE_MAX_S).
SETTLE_MAX_S = float(os.environ.get("FAULTYARD_GAMEDAY_SETTLE_MAX_S", "60"))


class GameDayError(FaultyardError):
    """A game day cannot start (another run is in progress)."""


def refuse_if_running(settings: StackSettings) -> None:
    """Refuse to start while a scenario run, a coverage run, a drill or a game day injects."""
    other = read_active(settings)
    if other is not None and other.runner_alive():
        raise GameDayError(
            f"another run is in progress: {other.scenario} (pid {other.pid}); "
            "wait for it to finish, or stop it and run `faultyard reset`"
        )


def gameday_load(catalogue: Mapping[str, Scenario], schedule: Schedule) -> LoadProfile:
    """Return the day's shoppers: each scheduled scenario's own, past MAX_USERS shrunk alike.

    Head counts per journey, so deadlock's crossed buyers are not thinned by others' browsers.
    """
    chosen = [catalogue[slot.scenario] for slot in schedule.slots]
    heads: dict[str, float] = {}
    for scenario in chosen:
        total = sum(scenario.load.journeys.values())
        for name, weight in scenario.load.journeys.items():
            heads[name] = heads.get(name, 0.0) + scenario.load.users * weight / total
    users = min(MAX_USERS, round(sum(heads.values())))
    scale = users / sum(heads.values())
    return LoadProfile(
        users=users,
        spawn_rate=max(s.load.spawn_rate for s in chosen),
        duration_s=schedule.duration_s + 30,
        journeys={name: max(1, round(n * scale)) for name, n in sorted(heads.items())},
    )


class GameDay:
    """One game day, from the stack's preflight to its report."""

    def __init__(
        self,
        stack: Stack,
        schedule: Schedule,
        catalogue: Mapping[str, Scenario],
        out_dir: Path,
        *,
        scenarios: list[str] | None = None,
        progress: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.stack, self.schedule, self.catalogue = stack, schedule, catalogue
        self.out_dir, self.scenarios, self.say = out_dir, scenarios, progress
        self.runs = [
            FaultRun(s.scenario, s.start_s, s.hold_s, [f.describe() for f in self._faults(s.scenario)])
            for s in schedule.slots
        ]  # fmt: skip
        self.ledger = Ledger(self.runs)
        self.signals = RunSignals()
        self.prometheus = PrometheusClient(stack.settings.prometheus_url, timeout_s=5)
        self.profile = gameday_load(catalogue, schedule)
        self.injector: Injector | None = None
        self.load: Load | None = None
        self.log = InjectionLog(out_dir / LOG_NAME)
        #: Faults on now, and faults whose revert failed: what the active-run file lists.
        self.on: list[FaultRun] = []
        self.stuck: list[FaultRun] = []
        self.t0: float | None = None
        self.started_at = time.time()
        self.error: str | None = None
        self.left_over: list[str] = []
        self._prometheus_failing = False

    def _faults(self, name: str) -> tuple[FaultStep, ...]:
        return self.catalogue[name].faults

    def _now(self) -> float:
        """Return the seconds since the day started (0 before it has)."""
        return 0.0 if self.t0 is None else time.monotonic() - self.t0

    def _say(self, line: str) -> None:
        self.say(f"[+{self._now():6.1f}s] {line}")

    def run(self) -> dict[str, Any]:
        """Run the day (Ctrl-C or SIGTERM cut it short); return the summary, also written out."""
        self.signals.install()
        try:
            with self.signals.interruptible_phase():
                self._preflight()
            self._play()
        except Interrupted:
            pass
        except Exception as exc:
            self.error = str(exc) if isinstance(exc, FaultyardError) else repr(exc)
            raise
        finally:
            summary = self._finish()
        return summary

    def _preflight(self) -> None:
        """The stack up, what a killed run left undone, the alerts of an earlier run resolved."""
        settings = self.stack.settings
        refuse_if_running(settings)
        # Before up(): a killed run's damage (a leaked pool) can make a service unhealthy, and
        # a paused service never answers.
        undone = undo_active(Injector(self.stack)) if read_active(settings) is not None else []
        undone += Injector(self.stack).resume_stopped()
        self.stack.up()
        self.injector = Injector(self.stack)  # made again: up() may have written the admin token
        undone += undo_active(self.injector) + self.injector.sweep()
        for line in undone:
            self.say(f"left over: {line}")
        self.prometheus.check()
        still = settle(self.prometheus, set(), self.say, max_s=SETTLE_MAX_S)
        if still:
            self.say(f"still firing with no fault and no load: {', '.join(sorted(still))}")

    def _play(self) -> None:
        """Start the shoppers, then tick every second: revert, inject, read the alerts."""
        self.load = Load(
            profile=self.profile,
            host=self.stack.settings.shop_url,
            out_dir=self.out_dir,
            users=self.profile.users,
            run_time_s=self.profile.duration_s,
            seed=self.schedule.seed,
        )
        self.load.start()
        self.t0, self.started_at = time.monotonic(), time.time()
        self.ledger.start(firing(self.prometheus))
        self.log.write("start", 0.0, seed=self.schedule.seed, schedule=self.schedule.to_dict())
        self._say(f"shoppers started ({self.profile.users}: {', '.join(self.profile.journeys)})")
        if self.ledger.at_rest:
            self._say(f"firing at rest: {', '.join(self.ledger.at_rest)}")
        pending = list(self.runs)
        while (now := self._now()) < self.schedule.duration_s and self.signals.received is None:
            for run in [r for r in self.on if r.planned_end_s <= now]:
                self._revert(run)
            while pending and pending[0].planned_start_s <= now and self.signals.received is None:
                self._inject(pending.pop(0))
            self._poll()
            time.sleep(max(0.0, min(POLL_S, POLL_S - (self._now() - now))))

    def _write_active(self) -> None:
        """List every fault on (and stuck) in the active-run file; remove it when there is none."""
        listed = [self.catalogue[r.scenario] for r in (*self.on, *self.stuck)]
        if not listed:
            clear_active(self.stack.settings)
            return
        steps = [f.model_dump(mode="json") for s in listed for f in s.faults]
        rollbacks = [r.model_dump(mode="json") for s in listed for r in s.rollbacks]
        run = ActiveRun(ACTIVE_NAME, os.getpid(), self.started_at, steps, rollbacks)
        write_active(self.stack.settings, run)

    def _inject(self, run: FaultRun) -> None:
        assert self.injector is not None
        self.on.append(run)
        self._write_active()  # listed before it goes in: a kill now still gets it undone
        at = self._now()
        try:
            done = [self.injector.apply(step) for step in self._faults(run.scenario)]
        except FaultyardError as exc:
            run.errors.append(f"could not inject: {exc}")
            self.log.write("inject_failed", at, scenario=run.scenario, error=str(exc))
            self._say(f"could not inject {run.scenario}: {exc}; undoing it")
            self._undo(run)
            return
        self.ledger.injected(run, at)
        self.log.write("inject", at, scenario=run.scenario, steps=run.steps, done=done)
        self._say(f"inject {run.scenario}: {'; '.join(run.steps)}")

    def _revert(self, run: FaultRun, *, cut_short: bool = False) -> None:
        at = self._now()
        done = self._undo(run)
        self.ledger.reverted(run, at, cut_short=cut_short)
        self.log.write("revert", at, scenario=run.scenario, steps=run.steps, done=done,
                       errors=run.errors, cut_short=cut_short)  # fmt: skip
        early = ", cut short" if cut_short else ""
        self._say(f"revert {run.scenario} (on for {at - (run.injected_s or at):.0f}s{early})")

    def _undo(self, run: FaultRun) -> list[str]:
        """Undo a fault's steps (last first), then run its rollbacks; keep it listed if one fails."""
        assert self.injector is not None
        scenario = self.catalogue[run.scenario]
        self.on.remove(run)
        done: list[str] = []
        failed = False
        steps = [*((s, True) for s in reversed(scenario.faults)), *((r, False) for r in scenario.rollbacks)]  # fmt: skip
        for step, is_fault in steps:
            try:
                done.append(self.injector.revert(step) if is_fault else self.injector.apply(step))
            except FaultyardError as exc:
                failed = True
                run.errors.append(f"could not undo {step.describe()}: {exc}")
        if failed:
            self.stuck.append(run)
        self._write_active()
        return done

    def _poll(self) -> None:
        """Read the firing alerts once and credit those that started (a failed read is skipped)."""
        try:
            now_firing = firing(self.prometheus)
        except PrometheusError as exc:
            if not self._prometheus_failing:
                self._say(f"could not read the alerts: {exc}")
            self._prometheus_failing = True
            return
        self._prometheus_failing = False
        at = self._now()
        for line in self.ledger.observe(at, now_firing):
            self.say(f"[+{at:6.1f}s] {line}")

    def _finish(self) -> dict[str, Any]:
        """Revert what is on, stop the shoppers, write the report; each whatever the others did."""
        try:
            for run in list(self.on):  # the schedule ends every fault before the day ends
                self._revert(run, cut_short=True)
            if self.injector is not None:
                lines = undo_active(self.injector)  # the stuck ones, once more
                if read_active(self.stack.settings) is not None:
                    self.left_over = lines
        except Exception as exc:
            self.left_over = [f"could not roll back: {exc}"]
        finally:
            if self.load is not None:
                self.load.stop()
        self.ledger.finish()
        summary = self.summary()
        gameday_report.write(self.out_dir, summary)
        self.log.write("end", self._now(), interrupted=self.signals.name, error=self.error)
        self.log.close()
        self.signals.restore()
        if self.signals.name:
            self.say(f"interrupted by {self.signals.name}: everything reverted")
        return summary

    def summary(self) -> dict[str, Any]:
        """Return the day's summary: its schedule, its coverage, how it ended."""
        end = self._now()
        return {
            "id": self.out_dir.name,
            "report_dir": str(self.out_dir),
            "started_at": datetime.fromtimestamp(self.started_at)
            .astimezone()
            .isoformat(timespec="seconds"),
            "elapsed_s": round(end, 1),
            "interrupted": self.signals.name,
            "error": self.error,
            "left_over": self.left_over,
            "scenarios": self.scenarios,
            "schedule": self.schedule.to_dict(),
            "load": {"users": self.profile.users, "journeys": self.profile.journeys},
            **self.ledger.summary(end),
        }
