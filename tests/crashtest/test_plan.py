"""The crash test's points: seeded, covering every required moment and the catalogue."""

from __future__ import annotations

import pytest

from chaos.crashtest.plan import MOMENTS, RECOVERIES, REQUIRED, draw

NAMES = ["a", "b", "c", "d"]


def test_the_same_seed_draws_the_same_points_and_another_seed_others() -> None:
    assert draw(7, 20, NAMES) == draw(7, 20, NAMES)
    assert draw(7, 20, NAMES) != draw(8, 20, NAMES)


@pytest.mark.parametrize("seed", range(5))
def test_a_plan_as_long_as_the_required_moments_reaches_each(seed: int) -> None:
    points = draw(seed, len(REQUIRED), NAMES)
    assert sorted(p.moment for p in points) == sorted(REQUIRED)
    assert [p.number for p in points] == list(range(1, len(REQUIRED) + 1))


def test_each_scenario_comes_before_any_comes_twice_and_delays_stay_in_their_moment() -> None:
    points = draw(3, 20, NAMES)
    first_round = [p.scenario for p in points[: len(NAMES)]]
    assert sorted(first_round) == NAMES
    assert all(0 <= p.delay_s <= MOMENTS[p.moment] for p in points)
    recoveries = [p.recovery for p in points]
    assert {r: recoveries.count(r) for r in RECOVERIES} == {"reset": 10, "preflight": 10}
    assert {p.fixed for p in points} == {True, False}


def test_no_point_or_no_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one point"):
        draw(1, 0, NAMES)
    with pytest.raises(ValueError, match="at least one scenario"):
        draw(1, 3, [])
