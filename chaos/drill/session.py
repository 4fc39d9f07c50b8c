"""What the drill commands do, apart from printing: start, answer, hint, fix, end.

The commands change the drill's state file (chaos.drill.state); the supervisor
(chaos.drill.supervisor) acts on it: it injects, deploys the fix, verifies
the mitigation, rolls back and grades.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chaos.drill.grading import AnswerSheet, offered_choices
from chaos.drill.picker import QUIET_DELAY_S, Difficulty, candidates
from chaos.drill.state import (
    DrillError,
    DrillState,
    drill_dir,
    hide_listings,
    in_progress,
    load_current,
    locked,
    save,
    supervisor_alive,
    update,
)
from chaos.faults.injector import Injector
from chaos.scenarios.catalogue import load_catalogue
from chaos.scenarios.cleanup import read_active, undo_crashed_run
from chaos.scenarios.model import Scenario
from chaos.scenarios.run_index import RunInProgressError, refuse_if_running
from chaos.scenarios.runner import report_dir
from chaos.settings import StackSettings
from chaos.stack.manager import Stack

SUPERVISOR_LOG = "supervisor.log"
START_TIMEOUT_S = 60.0
END_TIMEOUT_S = 180.0  # rolling back and drawing the debrief's panels
STOP_TIMEOUT_S = 30.0
#: Waiting for the page: the longest quiet delay, and this.
PAGE_MARGIN_S = 30.0
MAX_HINTS = 3
ANSWER_FIELDS = set(AnswerSheet.model_fields) - {"hints_used", "mitigated"}


def start(
    stack: Stack,
    *,
    seed: int | None,
    difficulty: Difficulty | None,
    scenario_from: list[str] | None,
    quiet_delay_s: tuple[float, float] = QUIET_DELAY_S,
    report_root: Path = Path("reports"),
) -> DrillState:
    """Start a drill: the stack up, leftovers undone, the supervisor running; return its state."""
    settings = stack.settings
    candidates(load_catalogue(), difficulty=difficulty, scenario_from=scenario_from)  # fail early
    if in_progress(settings) is not None:
        raise DrillError("a drill is already running: `faultyard drill status`")
    active = read_active(settings)
    if active is not None and active.runner_alive():
        raise DrillError(f"a scenario run is in progress (pid {active.pid}); wait for it to end")
    try:
        refuse_if_running(settings, "no drill starts now")
    except RunInProgressError as exc:
        raise DrillError(str(exc)) from None
    Injector(stack).resume_stopped()  # a paused service never answers up()'s health check
    stack.up()
    hide_listings(settings, False)  # a killed drill's, so that the sweep can read the switches
    undo_crashed_run(stack)  # a killed run's or drill's faults
    out_dir = report_dir(report_root, "drill").resolve()
    state = DrillState(
        id=out_dir.name.removeprefix("drill-"),
        seed=secrets.randbelow(2**31) if seed is None else seed,
        difficulty=difficulty,
        scenario_from=scenario_from,
        started_at=time.time(),
        quiet_delay_s=quiet_delay_s,
        report_dir=str(out_dir),
    )
    with locked(settings):  # checked again: another start may have come meanwhile
        if in_progress(settings) is not None:
            raise DrillError("a drill is already running: `faultyard drill status`")
        previous = load_current(settings)
        if previous is not None and previous.running:
            _abandoned(previous)
            save(settings, previous)
        save(settings, state)
    hide_listings(settings, True)
    supervisor = _spawn_supervisor(settings)
    try:
        return _wait(settings, lambda s: s.status != "starting", START_TIMEOUT_S, "to start",
                     supervisor)  # fmt: skip
    except BaseException:
        _stop(supervisor)
        update(settings, _abandoned)
        hide_listings(settings, False)
        raise


def _stop(supervisor: subprocess.Popen[bytes]) -> None:
    """Stop a supervisor that did not start in time (SIGTERM: it rolls back what it did)."""
    if supervisor.poll() is None:
        supervisor.terminate()
        try:
            supervisor.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            supervisor.kill()
            supervisor.wait()


def _abandoned(state: DrillState) -> None:
    state.status = "failed"
    state.error = "its supervisor stopped before the drill ended"
    state.ended_at = state.ended_at or time.time()


def _spawn_supervisor(settings: StackSettings) -> subprocess.Popen[bytes]:
    log_path = drill_dir(settings) / SUPERVISOR_LOG
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "chaos.drill.supervisor"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "FAULTYARD_STATE_DIR": str(settings.state_path)},
            start_new_session=True,  # it outlives the terminal that started the drill
        )


def _wait(
    settings: StackSettings,
    done: Callable[[DrillState], object],
    timeout_s: float,
    what: str,
    supervisor: subprocess.Popen[bytes] | None = None,
) -> DrillState:
    deadline = time.monotonic() + timeout_s
    while True:
        state = load_current(settings)
        if state is not None and done(state):
            return state
        if supervisor is not None and supervisor.poll() is not None:
            raise DrillError(
                f"the drill's supervisor exited ({supervisor.returncode}); "
                f"see {drill_dir(settings) / SUPERVISOR_LOG}"
            )
        if state is not None and state.status != "starting" and not supervisor_alive(state):
            raise DrillError(
                f"the drill's supervisor stopped; see {drill_dir(settings) / SUPERVISOR_LOG}"
            )
        if time.monotonic() > deadline:
            raise DrillError(f"the drill did not get {what} within {timeout_s:g}s; see "
                             f"{drill_dir(settings) / SUPERVISOR_LOG}")  # fmt: skip
        time.sleep(0.2)


def wait_for_page(settings: StackSettings, timeout_s: float) -> DrillState:
    """Wait until the pager goes off (the fault's moment) or the drill ends."""
    return _wait(settings, lambda s: s.injected_at is not None or not s.running, timeout_s, "paged")


def wait_for_grade(settings: StackSettings) -> DrillState:
    """Wait until the supervisor has graded the ended drill."""
    return _wait(settings, lambda s: s.grade is not None, END_TIMEOUT_S, "graded")


def page_scenario(state: DrillState) -> Scenario:
    """Return the scenario whose page, hints and choices the drill shows (for a control too)."""
    return load_catalogue()[state.plan().load_from]


def _paged(state: DrillState) -> None:
    """Refuse (inside an update) when no drill runs or it has not paged yet."""
    if not state.running:
        raise DrillError("no drill is running: `faultyard drill start` starts one")
    if state.injected_at is None:
        raise DrillError("no page yet: wait for it (`faultyard drill status`)")


def hint(settings: StackSettings) -> tuple[int, str]:
    """Give the next hint (where to look, what you should see, closer to the cause)."""
    taken: list[int] = []

    def use(state: DrillState) -> None:
        _paged(state)
        if state.hints_used >= MAX_HINTS:
            raise DrillError(f"all {MAX_HINTS} hints are used")
        state.hints_used += 1
        state.note(f"hint {state.hints_used} taken")
        taken.append(state.hints_used)

    state = update(settings, use)
    return taken[0], hints_taken(state)[taken[0] - 1]


def hints_taken(state: DrillState) -> list[str]:
    """Return the texts of the hints taken so far (already shown: they may be shown again)."""
    if state.injected_at is None or state.hints_used == 0:
        return []
    guide = page_scenario(state).guide
    hints = [guide.where_to_look[0], guide.what_you_will_see[0], guide.where_to_look[-1]]
    return hints[: state.hints_used]


def choices(state: DrillState) -> list[str]:
    """Return the root-cause choices as this drill offers them."""
    return offered_choices(page_scenario(state).answer, state.seed)


def given_answers(
    options: list[str],
    *,
    something_wrong: bool | None,
    component: str | None,
    cause_choice: int | None,
    cause_text: str | None,
) -> dict[str, Any]:
    """Return the AnswerSheet fields of what was answered; `cause_choice` counts from 1 in
    `options` (the drill's root-cause choices): out of range raises DrillError."""
    given: dict[str, Any] = {}
    if something_wrong is not None:
        given["something_wrong"] = something_wrong
    if component:
        given["component"] = component
    if cause_choice is not None:
        if not 1 <= cause_choice <= len(options):
            raise DrillError(f"cause choice: choose 1 to {len(options)}")
        given["root_cause_choice"] = options[cause_choice - 1]
    if cause_text:
        given["root_cause_text"] = cause_text
    return given


def answer(settings: StackSettings, given: dict[str, Any]) -> DrillState:
    """Record answers (AnswerSheet fields); "nothing is wrong" ends the drill."""
    unknown = sorted(set(given) - ANSWER_FIELDS)
    if unknown or not given:
        raise DrillError(f"unknown answer {', '.join(unknown)}" if unknown else "no answer given")

    def record(state: DrillState) -> None:
        _paged(state)
        try:
            AnswerSheet.model_validate({**state.answers, **given})
        except ValidationError as exc:
            raise DrillError(f"not an answer: {exc.errors()[0]['msg']}") from None
        now = time.time()
        state.answers.update(given)
        levels = {"something_wrong": "detection", "component": "localisation"}
        for field, level in levels.items():
            if field in given:
                state.answered_at[level] = now
        if {"root_cause_choice", "root_cause_text"} & given.keys():
            state.answered_at["root_cause"] = now
        state.note("answered " + ", ".join(f"{k}={v!r}" for k, v in given.items()))
        if given.get("something_wrong") is False:
            state.status = "ended"
            state.ended_at = now

    return update(settings, record)


def deploy_fix(settings: StackSettings) -> DrillState:
    """Ask for the fixed code path to be deployed (after the root cause is answered)."""

    def request(state: DrillState) -> None:
        _paged(state)
        if "root_cause" not in state.answered_at:
            raise DrillError(
                "answer the root cause first: `faultyard drill answer --cause-choice N`"
            )
        if state.fix_requested_at is not None:
            raise DrillError("the fix is already deployed or on its way")
        state.fix_requested_at = time.time()
        state.note("asked to deploy the fix")

    return update(settings, request)


def end(settings: StackSettings, *, give_up: bool) -> DrillState:
    """End the drill now (graded as it stands), or give up (nothing scores)."""

    def close(state: DrillState) -> None:
        if not state.running:
            raise DrillError("no drill is running: `faultyard drill status` shows the last one")
        state.status = "gave_up" if give_up else "ended"
        state.ended_at = time.time()
        state.note("gave up" if give_up else "ended the drill")

    update(settings, close)
    return wait_for_grade(settings)
