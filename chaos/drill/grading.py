"""Grade a drill's answers at four levels: detection, localisation, root cause, mitigation.

Learnt from AIOpsLab's four tasks (arXiv 2501.06706), each graded on its own,
with the time each took reported beside it, and from its no-fault problems: on
a control drill the only right answer is that nothing is wrong, and a false
alarm scores nothing. A missed incident scores nothing at any level either:
nobody localises what they did not see.

Points: detection 20, localisation 20 (10 for a part that only takes part in
the fault), root cause 30 (the right choice; 20 for the cause named in words
matching the answer key's keywords), mitigation 30 (the scenario's own SLO holds
again after a remedy the drill accepts). Each hint costs 5; a grade never goes
below 0.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from chaos.scenarios.model import AnswerKey, Component

POINTS = {"detection": 20, "localisation": 20, "root_cause": 30, "mitigation": 30}
MAX_POINTS = sum(POINTS.values())
RELATED_COMPONENT_POINTS = 10
ROOT_CAUSE_IN_WORDS_POINTS = 20
HINT_COST = 5


class AnswerSheet(BaseModel):
    """What a person (or an agent) answered, and when (seconds after the drill started)."""

    model_config = ConfigDict(extra="forbid")

    #: None: not answered (which scores nothing, on a control too).
    something_wrong: bool | None = None
    component: Component | None = None
    #: The text of the chosen root cause, as the drill offered it.
    root_cause_choice: str | None = None
    root_cause_text: str = ""
    #: Verified by the drill: the SLO held again after an accepted remedy.
    mitigated: bool = False
    hints_used: int = Field(0, ge=0)


@dataclass(frozen=True)
class LevelGrade:
    """One level's points and why."""

    level: str
    points: int
    max_points: int
    why: str


@dataclass(frozen=True)
class Grade:
    """The whole grade: each level, the hints' cost, the total."""

    control: bool
    levels: tuple[LevelGrade, ...]
    hint_penalty: int
    #: A control answered with "something is wrong".
    false_alarm: bool = False

    @property
    def max_total(self) -> int:
        return sum(level.max_points for level in self.levels)

    @property
    def total(self) -> int:
        return max(0, sum(level.points for level in self.levels) - self.hint_penalty)


def offered_choices(key: AnswerKey, seed: int) -> list[str]:
    """Return the root-cause choices in the order this drill shows them (shuffled by its seed)."""
    choices = list(key.choices)
    random.Random(seed).shuffle(choices)
    return choices


def detected(sheet: AnswerSheet) -> bool | None:
    """Return the detection answer: said outright, or implied by a later level answered."""
    if sheet.something_wrong is not None:
        return sheet.something_wrong
    later = (sheet.component, sheet.root_cause_choice, sheet.root_cause_text, sheet.mitigated)
    return True if any(later) else None


def grade(key: AnswerKey | None, sheet: AnswerSheet) -> Grade:
    """Grade the sheet against the scenario's answer key (None: the drill was a control)."""
    penalty = HINT_COST * sheet.hints_used
    wrong = detected(sheet)
    if key is None:
        if wrong is None:
            level = LevelGrade("detection", 0, MAX_POINTS, "not answered")
            return Grade(True, (level,), penalty)
        quiet = not wrong
        why = "a quiet shift, rightly left alone" if quiet else "a false alarm: nothing was wrong"
        level = LevelGrade("detection", MAX_POINTS if quiet else 0, MAX_POINTS, why)
        return Grade(True, (level,), penalty, false_alarm=not quiet)
    if not wrong:
        why = "not answered" if wrong is None else "missed: something was wrong"
        missed = [LevelGrade("detection", 0, POINTS["detection"], why)]
        missed += [LevelGrade(level, 0, POINTS[level], "not reached") for level in list(POINTS)[1:]]
        return Grade(False, tuple(missed), penalty)
    return Grade(
        False,
        (
            LevelGrade("detection", POINTS["detection"], POINTS["detection"], "detected"),
            _localisation(key, sheet.component),
            _root_cause(key, sheet),
            _mitigation(sheet.mitigated),
        ),
        penalty,
    )


def _localisation(key: AnswerKey, component: str | None) -> LevelGrade:
    full = POINTS["localisation"]
    if component == key.component:
        return LevelGrade("localisation", full, full, f"{component}: right")
    if component in key.related_components:
        why = f"{component} takes part, but the fault is in {key.component}"
        return LevelGrade("localisation", RELATED_COMPONENT_POINTS, full, why)
    said = component or "no component given"
    return LevelGrade("localisation", 0, full, f"{said}: the fault is in {key.component}")


def _root_cause(key: AnswerKey, sheet: AnswerSheet) -> LevelGrade:
    full = POINTS["root_cause"]
    right = key.choices[key.correct_choice]
    if sheet.root_cause_choice == right:
        return LevelGrade("root_cause", full, full, "the right cause chosen")
    if sheet.root_cause_text and key.accepts(sheet.root_cause_text):
        return LevelGrade("root_cause", ROOT_CAUSE_IN_WORDS_POINTS, full, "named in words")
    return LevelGrade("root_cause", 0, full, f"the cause was: {right}")


def _mitigation(mitigated: bool) -> LevelGrade:
    full = POINTS["mitigation"]
    if mitigated:
        return LevelGrade("mitigation", full, full, "the SLO held again after the remedy")
    return LevelGrade("mitigation", 0, full, "not mitigated")
