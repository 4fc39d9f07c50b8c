"""Which drill to run: a scenario of the catalogue, or a no-fault control, chosen by a seed.

The same seed, catalogue and filters always give the same drill, so a team can
hand one drill to several people (or agents) and compare their grades. About
one drill in six is a control: nothing is injected, and the right answer is
that nothing is wrong (crying wolf costs the points, as in AIOpsLab's
no-fault problems).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from chaos.errors import FaultyardError

if TYPE_CHECKING:
    from chaos.scenarios.model import Scenario

Difficulty = Literal["easy", "medium", "hard"]
#: A drill's difficulty, as the scenarios name it.
DIFFICULTIES: dict[str, str] = {"easy": "beginner", "medium": "intermediate", "hard": "advanced"}
CONTROL_SHARE = 1 / 6
#: The quiet time before the fault, in seconds: the person cannot time the injection.
QUIET_DELAY_S = (20.0, 90.0)


class DrillPlanError(FaultyardError):
    """The filters leave no scenario to pick, or name one the catalogue does not have."""


@dataclass(frozen=True)
class DrillPlan:
    """What a drill will do: inject `scenario` after `quiet_delay_s` (None: a control).

    `load_from` is the scenario whose shoppers the drill runs: the one injected, or for
    a control one drawn all the same, so that the load does not tell a control apart.
    """

    seed: int
    scenario: str | None
    quiet_delay_s: float
    load_from: str

    @property
    def control(self) -> bool:
        return self.scenario is None


def candidates(
    catalogue: Mapping[str, Scenario],
    *,
    difficulty: Difficulty | None = None,
    scenario_from: Iterable[str] | None = None,
) -> list[str]:
    """Return, sorted, the names a drill may pick from after the filters."""
    names = sorted(catalogue)
    if scenario_from is not None:
        wanted = sorted(set(scenario_from))
        unknown = [n for n in wanted if n not in catalogue]
        if unknown:
            raise DrillPlanError(
                f"unknown scenario {', '.join(unknown)}; known: {', '.join(names)}"
            )
        names = wanted
    if difficulty is not None:
        level = DIFFICULTIES[difficulty]
        names = [n for n in names if catalogue[n].difficulty == level]
    if not names:
        asked = f"difficulty {difficulty}" if difficulty else "the filters"
        raise DrillPlanError(f"no scenario matches {asked}")
    return names


def pick(
    catalogue: Mapping[str, Scenario],
    *,
    seed: int,
    difficulty: Difficulty | None = None,
    scenario_from: Iterable[str] | None = None,
    control_share: float = CONTROL_SHARE,
    quiet_delay_s: tuple[float, float] = QUIET_DELAY_S,
) -> DrillPlan:
    """Return the drill this seed gives among the filtered scenarios."""
    names = candidates(catalogue, difficulty=difficulty, scenario_from=scenario_from)
    rng = random.Random(seed)
    control = rng.random() < control_share
    scenario = rng.choice(names)  # drawn either way: a control does not shift the next draws
    delay = round(rng.uniform(*quiet_delay_s), 1)
    return DrillPlan(
        seed=seed, scenario=None if control else scenario, quiet_delay_s=delay, load_from=scenario
    )
