"""Where the crash test kills runs: seeded points across the catalogue and a run's phases.

A point is a scenario, a mode, a moment of the run (a phase, or Locust's
start) with a delay after it, and how the stack is recovered afterwards:
`faultyard reset`, or the next run's preflight. The same seed draws the same
points. The first points cover every moment the crash test must reach
(`REQUIRED`), so any plan of that many points or more has each of them; the
scenarios are drawn in turn from a shuffled catalogue, so each comes before
any comes twice.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from chaos.crashtest.victim import LOAD_START

#: Each moment, and the longest delay after it begins at which a point kills (seconds): about
#: as long as that part of a short run lasts, so most kills land inside it.
MOMENTS: dict[str, float] = {
    "preflight": 1.5,
    LOAD_START: 0.5,
    "baseline": 4.0,
    "inject": 0.05,
    "observe": 8.0,
    "rollback": 0.05,
    "recovery": 3.0,
    "report": 1.0,
}
#: The moments every plan of at least this many points reaches.
REQUIRED = ("inject", "observe", "rollback", LOAD_START, "preflight", "recovery")
RECOVERIES = ("reset", "preflight")

Recovery = Literal["reset", "preflight"]


@dataclass(frozen=True)
class CrashPoint:
    """One kill: which run, when, and how the stack is then recovered."""

    number: int
    scenario: str
    fixed: bool
    moment: str
    delay_s: float
    recovery: Recovery

    def describe(self) -> str:
        """Return the point in words."""
        mode = "fixed" if self.fixed else "bug"
        return (
            f"{self.scenario} ({mode}), {self.delay_s:.2f}s into {self.moment}, "
            f"then {'faultyard reset' if self.recovery == 'reset' else 'the next preflight'}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the point as JSON-ready data."""
        return asdict(self)


def draw(seed: int, count: int, scenarios: Sequence[str]) -> list[CrashPoint]:
    """Return `count` points drawn from `seed` over these scenarios."""
    if count < 1:
        raise ValueError("a crash test needs at least one point")
    if not scenarios:
        raise ValueError("a crash test needs at least one scenario")
    rng = random.Random(seed)
    required = list(REQUIRED)
    rng.shuffle(required)
    others = [m for m in MOMENTS if m not in REQUIRED]
    moments = required + [rng.choice([*MOMENTS, *others]) for _ in range(count - len(required))]
    recoveries = [RECOVERIES[i % 2] for i in range(count)]
    rng.shuffle(recoveries)
    order: list[str] = []
    points = []
    for number, moment in enumerate(moments[:count], start=1):
        if not order:
            order = list(scenarios)
            rng.shuffle(order)
        points.append(
            CrashPoint(
                number=number,
                scenario=order.pop(),
                fixed=rng.random() < 0.5,
                moment=moment,
                delay_s=round(rng.uniform(0.0, MOMENTS[moment]), 2),
                recovery=recoveries[number - 1],  # type: ignore[arg-type]
            )
        )
    return points
