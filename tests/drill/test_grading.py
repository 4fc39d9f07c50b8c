"""Grading a drill: each level on its own, controls, hints, and a missed incident."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chaos.drill.grading import MAX_POINTS, AnswerSheet, grade, offered_choices
from chaos.scenarios.catalogue import load_catalogue

KEY = load_catalogue()["deadlock"].answer
RIGHT = KEY.choices[KEY.correct_choice]


def points(sheet: AnswerSheet) -> dict[str, int]:
    return {level.level: level.points for level in grade(KEY, sheet).levels}


def test_a_perfect_answer_scores_every_point() -> None:
    sheet = AnswerSheet(
        something_wrong=True, component=KEY.component, root_cause_choice=RIGHT, mitigated=True
    )
    result = grade(KEY, sheet)
    assert result.total == result.max_total == MAX_POINTS
    assert not result.control and not result.false_alarm


def test_each_level_is_graded_on_its_own() -> None:
    related = KEY.related_components[0]
    sheet = AnswerSheet(something_wrong=True, component=related, root_cause_choice=KEY.choices[1])
    assert points(sheet) == {"detection": 20, "localisation": 10, "root_cause": 0, "mitigation": 0}
    elsewhere = AnswerSheet(something_wrong=True, component="redis", root_cause_text="a deadlock")
    assert points(elsewhere) == {
        "detection": 20, "localisation": 0, "root_cause": 20, "mitigation": 0,
    }  # fmt: skip


def test_a_missed_incident_scores_nothing() -> None:
    sheet = AnswerSheet(something_wrong=False, component=KEY.component, root_cause_choice=RIGHT)
    result = grade(KEY, sheet)
    assert result.total == 0
    assert result.levels[0].why == "missed: something was wrong"


def test_a_control_rewards_calm_and_punishes_a_false_alarm() -> None:
    calm = grade(None, AnswerSheet(something_wrong=False))
    assert (calm.control, calm.total, calm.false_alarm) == (True, MAX_POINTS, False)
    alarm = grade(None, AnswerSheet(something_wrong=True, component="database"))
    assert (alarm.total, alarm.false_alarm) == (0, True)


def test_hints_cost_points_but_never_below_zero() -> None:
    sheet = AnswerSheet(something_wrong=True, component=KEY.component, hints_used=2)
    assert grade(KEY, sheet).total == 40 - 10
    assert grade(KEY, sheet.model_copy(update={"hints_used": 20})).total == 0


def test_the_choices_are_shuffled_by_the_seed_and_keep_every_one() -> None:
    orders = {tuple(offered_choices(KEY, seed)) for seed in range(30)}
    assert len(orders) > 1, "the right answer is not always in one place"
    assert all(sorted(order) == sorted(KEY.choices) for order in orders)
    assert offered_choices(KEY, 7) == offered_choices(KEY, 7)


def test_an_unknown_component_is_refused() -> None:
    with pytest.raises(ValidationError):
        AnswerSheet(something_wrong=True, component="kernel")  # type: ignore[arg-type]


def test_an_unanswered_drill_scores_nothing_even_a_control() -> None:
    assert grade(KEY, AnswerSheet()).total == 0
    silent = grade(None, AnswerSheet())
    assert silent.total == 0 and not silent.false_alarm
    assert silent.levels[0].why == "not answered"


def test_a_later_level_answered_implies_detection() -> None:
    sheet = AnswerSheet(component=KEY.component, root_cause_choice=RIGHT)
    assert points(sheet) == {"detection": 20, "localisation": 20, "root_cause": 30, "mitigation": 0}
    assert grade(KEY, AnswerSheet(mitigated=True)).total == 20 + 30
