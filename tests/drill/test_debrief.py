"""The debrief's grade: given up, odd answers, and the report's sections."""

from __future__ import annotations

import time

from chaos.drill.debrief import grade_of, markdown
from chaos.drill.state import DrillState
from chaos.scenarios.catalogue import load_catalogue

SCENARIO = load_catalogue()["deadlock"]


def drill_state(**fields: object) -> DrillState:
    now = time.time()
    return DrillState(id="t", seed=1, started_at=now - 60, injected_at=now - 50, **fields)  # type: ignore[arg-type]


def test_giving_up_scores_nothing_and_keeps_a_false_alarm_a_false_alarm() -> None:
    right = SCENARIO.answer.choices[SCENARIO.answer.correct_choice]
    given_up = grade_of(
        drill_state(status="gave_up", answers={"root_cause_choice": right}), SCENARIO
    )
    assert given_up.total == 0 and {level.why for level in given_up.levels} == {"gave up"}
    alarm = grade_of(drill_state(status="gave_up", answers={"something_wrong": True}), None)
    assert alarm.total == 0 and alarm.false_alarm


def test_answers_the_commands_never_write_do_not_lose_the_grade() -> None:
    odd = drill_state(status="ended", answers={"bogus": 1, "component": "kernel"})
    assert grade_of(odd, SCENARIO).total == 0  # graded as no answer, not a crash


def test_the_debrief_names_the_scenario_the_grade_and_the_timeline() -> None:
    state = drill_state(status="ended", answers={"component": "shop"})
    state.note("ran: faultyard logs app")
    text = markdown(state, SCENARIO, grade_of(state, SCENARIO), [], ["switch off"])
    assert f"`{SCENARIO.name}`" in text and "**40 / 100**" in text
    assert "ran: faultyard logs app" in text and "fault injected" in text
    assert "rollback: switch off" in text and "## Diagnosis guide" in text
