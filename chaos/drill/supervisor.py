"""The drill's supervisor: shoppers, the hidden fault after a quiet delay, the fix, the end.

`faultyard drill start` runs `python -m chaos.drill.supervisor` in a session of
its own, so the drill outlives the terminal. It writes what it injects to the
active-run file first (as a scenario run does), so `faultyard reset` or the
next run's preflight undo a drill whose supervisor was killed.

Mitigation is verified with the scenario's own SLO probes: after the fix is
deployed, or after a remedy the answer key accepts (a runtime setting changed, a
service reloaded), every SLO probe must hold for HOLD_READINGS readings in a row
within MITIGATION_WINDOW_S.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from pathlib import Path

from chaos.drill import debrief
from chaos.drill.state import DrillState, hide_listings, load_current, update
from chaos.errors import FaultyardError
from chaos.faults.injector import Injector
from chaos.scenarios.catalogue import load_catalogue
from chaos.scenarios.cleanup import ActiveRun, undo_active, write_active
from chaos.scenarios.load import Load
from chaos.scenarios.model import LoadProfile, Scenario
from chaos.scenarios.probes import Prober
from chaos.settings import StackSettings, load_stack_settings
from chaos.stack.manager import Stack

log = logging.getLogger("faultyard.drill")

POLL_S = 1.0
HOLD_READINGS = 10
MITIGATION_WINDOW_S = 180.0
#: A drill ends by itself after this long (FAULTYARD_DRILL_MAX_S).
MAX_DRILL_S = float(os.environ.get("FAULTYARD_DRILL_MAX_S", "1800"))
ACTIVE_NAME = "drill"  # the active-run file names no scenario


def drill_load(catalogue: dict[str, Scenario], scenario: Scenario) -> LoadProfile:
    """Return the drill's shoppers: the scenario's own, plus one of every other journey.

    Every drill runs every journey the catalogue uses, so the traffic on the
    dashboards does not point at the scenario; its own shoppers keep their weights.
    """
    everyone = sorted({j for s in catalogue.values() for j in s.load.journeys})
    journeys = {**dict.fromkeys(everyone, 1), **scenario.load.journeys}
    return LoadProfile(
        users=sum(journeys.values()),
        spawn_rate=scenario.load.spawn_rate,
        duration_s=MAX_DRILL_S,
        journeys=journeys,
    )


class Supervisor:
    """One drill from its shoppers' start to its debrief."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.stack = Stack(settings)
        state = load_current(settings)
        if state is None:
            raise FaultyardError("no drill state to supervise")
        self.plan = state.plan()
        self.catalogue = load_catalogue()
        self.scenario = self.catalogue[self.plan.scenario] if self.plan.scenario else None
        self.report_dir = Path(state.report_dir or f"reports/drill-{state.id}")
        self.report_dir.mkdir(parents=True, exist_ok=True)
        self.injector = Injector(self.stack)
        self.prober = Prober(settings)
        self.injected: list[dict[str, object]] = []
        self.holding = 0
        #: The latest accepted remedy (name, when), and how many tried ones were looked at.
        self.remedy: tuple[str, float] | None = None
        self.remedies_seen = 0

    def run(self) -> None:
        load: Load | None = None
        try:
            state = update(self.settings, self._started)
            profile = drill_load(self.catalogue, self.catalogue[self.plan.load_from])
            load = Load(
                profile=profile,
                host=self.settings.shop_url,
                out_dir=self.report_dir,
                users=profile.users,
                run_time_s=MAX_DRILL_S,
                seed=state.seed,
            )
            load.start()
            self._loop(state)
        except Exception as exc:  # whatever it was, the drill ends: rolled back and reported
            error = (
                f"{type(exc).__name__}: {exc}" if not isinstance(exc, FaultyardError) else str(exc)
            )
            log.exception("drill failed")
            update(self.settings, lambda s: _fail(s, error))
        except SystemExit:
            update(self.settings, lambda s: _fail(s, "its supervisor was stopped (SIGTERM)"))
            raise
        finally:
            self._finish(load)

    def _finish(self, load: Load | None) -> None:
        """Roll back, stop the shoppers, grade and report; each step whatever the others did."""
        undone: list[str] = []
        try:
            undone = undo_active(self.injector) + self._undo_remedies()
        except Exception as exc:
            undone = [f"could not roll back: {exc}; `faultyard reset` will"]
            log.exception("rollback failed")
        finally:
            hide_listings(self.settings, False)
            if load is not None:
                load.stop()
        final = update(self.settings, lambda s: _end(s, "expired"))
        final = debrief.finish(self.settings, final, self.scenario, self.report_dir, undone)
        log.info("drill %s ended: %s", final.id, final.status)

    def _undo_remedies(self) -> list[str]:
        """Put back the runtime settings the person changed: the lab ends as it began."""
        state = load_current(self.settings)
        names = sorted({r.split(":", 1)[1] for r, _ in (state.remedies_tried if state else [])
                        if r.startswith("setting:")})  # fmt: skip
        undone = []
        for name in names:
            try:
                undone.append(f"setting {name}: {self.injector.reset_setting(name)}")
            except FaultyardError as exc:
                undone.append(f"could not put setting {name} back: {exc}")
        return undone

    def _started(self, state: DrillState) -> None:
        state.status = "running"
        state.supervisor_pid = os.getpid()
        state.note("shoppers started")

    def _loop(self, state: DrillState) -> None:
        inject_at = state.started_at + self.plan.quiet_delay_s
        deadline = state.started_at + MAX_DRILL_S
        while time.time() < deadline:
            state = load_current(self.settings) or state
            if not state.running:
                return
            if state.injected_at is None and time.time() >= inject_at:
                self._inject(state)
            elif state.fix_requested_at and state.fix_deployed_at is None:
                self._deploy_fix()
            elif state.injected_at is not None and state.mitigated_at is None:
                self._judge_remedies(state)
                self._check_mitigation()
            time.sleep(POLL_S)

    def _inject(self, state: DrillState) -> None:
        paged: list[bool] = []

        def page(fresh: DrillState) -> None:
            # Under the lock: a drill ended meanwhile gets no fault.
            if fresh.running and fresh.injected_at is None:
                fresh.injected_at = time.time()  # a control's clock starts all the same
                paged.append(True)

        update(self.settings, page)
        if not paged:
            return
        faults = self.scenario.faults if self.scenario else ()
        self.injected = [f.model_dump(mode="json") for f in faults]
        self._write_active(state.started_at)
        for fault in faults:
            self.injector.apply(fault)

    def _write_active(self, started_at: float) -> None:
        """List what is in, and what the rollback must do after (a reload), for any undo."""
        rollbacks = (
            [r.model_dump(mode="json") for r in self.scenario.rollbacks] if self.scenario else []
        )
        write_active(
            self.settings,
            ActiveRun(ACTIVE_NAME, os.getpid(), started_at, list(self.injected), rollbacks),
        )

    def _deploy_fix(self) -> None:
        steps = self.scenario.fix if self.scenario else ()
        self.injected += [s.model_dump(mode="json") for s in steps]
        self._write_active(time.time())
        for step in steps:
            self.injector.apply(step)

        def deployed(state: DrillState) -> None:
            state.fix_deployed_at = time.time()
            state.remedies_tried.append(("deploy-fix", state.fix_deployed_at))
            state.note("the fix was deployed")

        update(self.settings, deployed)

    def _judge_remedies(self, state: DrillState) -> None:
        """Take the newest remedy the answer key accepts as the one to verify."""
        accepted = self.scenario.answer.remedies if self.scenario else ()
        for remedy, at in state.remedies_tried[self.remedies_seen :]:
            if at < (state.injected_at or at):
                continue  # before the page: nothing to mitigate yet
            if remedy == "deploy-fix" or remedy in accepted:
                self.remedy, self.holding = (remedy, at), 0
        self.remedies_seen = len(state.remedies_tried)

    def _check_mitigation(self) -> None:
        if self.remedy is None or self.scenario is None:
            return
        remedy, at = self.remedy
        if time.time() - at > MITIGATION_WINDOW_S:
            return
        held = all(self.prober.evaluate(probe).holds for probe in self.scenario.slo)
        self.holding = self.holding + 1 if held else 0
        if self.holding >= HOLD_READINGS:

            def mitigated(state: DrillState) -> None:
                if not state.running:
                    return  # ended meanwhile: as it stands
                state.mitigated_at = time.time()
                state.answers["mitigated"] = True
                state.note(
                    f"mitigated by {remedy}: every SLO probe held {HOLD_READINGS} readings in a row"
                )
                _end(state, "ended")

            update(self.settings, mitigated)


def _end(state: DrillState, status: str) -> None:
    if state.running:
        state.status = status  # type: ignore[assignment]
    state.ended_at = state.ended_at or time.time()


def _fail(state: DrillState, error: str) -> None:
    if not state.running:
        return  # it had ended already: that is how it ended
    state.error = error
    state.status = "failed"
    state.ended_at = time.time()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # SIGTERM (a `kill`, a shutdown) ends the drill as an error would: rolled back, reported.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    Supervisor(load_stack_settings()).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
