"""Picking a drill: reproducible by seed, filtered, with about one control in six."""

from __future__ import annotations

import re

import pytest

from chaos.drill.picker import CONTROL_SHARE, QUIET_DELAY_S, DrillPlanError, candidates, pick
from chaos.scenarios.catalogue import load_catalogue

CATALOGUE = load_catalogue()


def test_the_same_seed_gives_the_same_drill() -> None:
    assert [pick(CATALOGUE, seed=s) for s in range(50)] == [
        pick(CATALOGUE, seed=s) for s in range(50)
    ]


def test_seeds_spread_over_the_catalogue_with_a_share_of_controls() -> None:
    plans = [pick(CATALOGUE, seed=s) for s in range(1200)]
    controls = sum(p.control for p in plans)
    assert abs(controls / len(plans) - CONTROL_SHARE) < 0.04, controls
    assert {p.scenario for p in plans if not p.control} == set(CATALOGUE)
    low, high = QUIET_DELAY_S
    assert all(low <= p.quiet_delay_s <= high for p in plans)


def test_difficulty_keeps_only_scenarios_of_that_level() -> None:
    easy = candidates(CATALOGUE, difficulty="easy")
    assert easy and all(CATALOGUE[n].difficulty == "beginner" for n in easy)
    plans = [pick(CATALOGUE, seed=s, difficulty="medium") for s in range(100)]
    assert all(CATALOGUE[p.scenario].difficulty == "intermediate" for p in plans if p.scenario)


def test_a_list_of_scenarios_limits_the_choice() -> None:
    plans = {pick(CATALOGUE, seed=s, scenario_from=["deadlock", "oversell"]).scenario
             for s in range(100)}  # fmt: skip
    assert plans == {"deadlock", "oversell", None}


def test_no_controls_when_the_share_is_zero() -> None:
    assert not any(pick(CATALOGUE, seed=s, control_share=0).control for s in range(100))


def test_unknown_scenarios_are_named_with_the_known_ones() -> None:
    known = re.escape(", ".join(sorted(CATALOGUE)))  # every scenario, by name
    with pytest.raises(DrillPlanError, match=f"unknown scenario nope; known: {known}$"):
        pick(CATALOGUE, seed=1, scenario_from=["deadlock", "nope"])


def test_filters_that_leave_nothing_say_so() -> None:
    beginner = candidates(CATALOGUE, difficulty="easy")
    with pytest.raises(DrillPlanError, match="no scenario matches difficulty hard"):
        pick(CATALOGUE, seed=1, difficulty="hard", scenario_from=beginner)
