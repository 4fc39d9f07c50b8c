"""A game day's schedule: which faults of the catalogue go in when, and for how long, by a seed.

The same seed, options and catalogue always give the same schedule, so a team
can replay a game day after changing its alert rules and compare. The schedule
leaves a quiet stretch at the start (alerts that fire then, with no fault, are
false positives at rest) and a tail after the last revert for the alerts to
resolve. Two faults conflict when they touch the same machinery (a proxy, a bug
switch, a runtime setting, an index, a service): conflicting faults never
overlap, so that reverting one never undoes the other; the others may.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from chaos.errors import FaultyardError

if TYPE_CHECKING:
    from chaos.faults.base import FaultKind
    from chaos.scenarios.model import Scenario

DEFAULT_FAULTS = 3
#: Each fault stays on at least this long: alerts have `for:` durations and 30 s windows.
MIN_HOLD_S = 20.0
MAX_HOLD_S = 180.0
#: The quiet stretch at the start, and the tail after the last revert: a tenth of the day each,
#: within these bounds.
EDGE_SHARE = 0.1
EDGE_MIN_S = 15.0
EDGE_MAX_S = 120.0
#: Between two conflicting faults: the first one's revert has settled before the next goes in.
CONFLICT_GAP_S = 5.0
#: Whole placements tried before a crowded day is refused (each draws again, from the seed).
ATTEMPTS = 20


class ScheduleError(FaultyardError):
    """The options ask for a schedule that cannot be drawn (too many faults, too short a day)."""


@dataclass(frozen=True)
class Slot:
    """One fault of the day: a scenario's faults on from `start_s` for `hold_s` seconds."""

    scenario: str
    start_s: float
    hold_s: float
    #: What the fault touches (e.g. `switch lock_in_cart_order`, `proxy postgres`).
    machinery: tuple[str, ...]

    @property
    def end_s(self) -> float:
        return round(self.start_s + self.hold_s, 1)

    def conflicts_with(self, other: Slot) -> bool:
        """Return whether the two touch some of the same machinery."""
        return bool(set(self.machinery) & set(other.machinery))

    def overlaps(self, other: Slot, gap_s: float = 0.0) -> bool:
        """Return whether the two are on at the same time (or less than gap_s apart)."""
        return self.start_s < other.end_s + gap_s and other.start_s < self.end_s + gap_s


@dataclass(frozen=True)
class Schedule:
    """The whole day: its length, its quiet start and tail, and the faults by start time."""

    seed: int
    duration_s: float
    quiet_s: float
    tail_s: float
    slots: tuple[Slot, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the schedule as JSON data (lists, not tuples)."""
        slots = [
            {**asdict(slot), "machinery": list(slot.machinery), "end_s": slot.end_s}
            for slot in self.slots
        ]
        return {**asdict(self), "slots": slots}

    def lines(self) -> list[str]:
        """Return the schedule in words, one line per fault."""
        return [
            f"+{s.start_s:>7.1f}s .. +{s.end_s:>7.1f}s  {s.scenario}  ({', '.join(s.machinery)})"
            for s in self.slots
        ]


def step_machinery(step: FaultKind) -> str:
    """Return the piece of the stack a step touches: its proxy, its service, or its own name."""
    for attribute in ("proxy", "service"):
        value = getattr(step, attribute, None)
        if value:
            return f"{attribute} {value}"
    return f"{step.kind} {getattr(step, 'name', '')}".rstrip()


def machinery(scenario: Scenario) -> tuple[str, ...]:
    """Return, sorted, what a scenario's faults and rollbacks touch."""
    return tuple(sorted({step_machinery(s) for s in (*scenario.faults, *scenario.rollbacks)}))


def edge_s(duration_s: float) -> float:
    """Return the length of the quiet start (and of the tail) of a day this long."""
    return round(min(EDGE_MAX_S, max(EDGE_MIN_S, duration_s * EDGE_SHARE)), 1)


def choose(catalogue: Mapping[str, Scenario], scenarios: Iterable[str] | None) -> list[str]:
    """Return, sorted, the scenarios the day draws from; unknown names are refused."""
    known = sorted(catalogue)
    if scenarios is None:
        return known
    wanted = sorted(set(scenarios))
    unknown = [n for n in wanted if n not in catalogue]
    if unknown:
        raise ScheduleError(f"unknown scenario {', '.join(unknown)}; known: {', '.join(known)}")
    if not wanted:
        raise ScheduleError("no scenario to draw from")
    return wanted


def draw(
    catalogue: Mapping[str, Scenario],
    *,
    seed: int,
    duration_s: float,
    faults: int = DEFAULT_FAULTS,
    scenarios: Iterable[str] | None = None,
) -> Schedule:
    """Return the schedule this seed gives: `faults` scenarios, each held within the day."""
    names = choose(catalogue, scenarios)
    if faults < 1:
        raise ScheduleError("a game day injects at least one fault")
    if faults > len(names):
        raise ScheduleError(
            f"{faults} faults asked, but only {len(names)} scenarios to draw from "
            f"({', '.join(names)}): a scenario goes in once a day"
        )
    quiet = tail = edge_s(duration_s)
    window = (quiet, duration_s - tail)
    if window[1] - window[0] < MIN_HOLD_S:
        raise ScheduleError(
            f"a {duration_s:g}s day is too short: after the quiet start and the tail "
            f"({quiet:g}s each) a fault needs {MIN_HOLD_S:g}s; "
            f"give at least {MIN_HOLD_S + 2 * EDGE_MIN_S:g}s"
        )
    rng = random.Random(seed)
    picked = rng.sample(names, faults)
    for attempt in range(ATTEMPTS):
        packed = attempt == ATTEMPTS - 1  # the last one: each fault as early and short as can be
        slots: list[Slot] = []
        for name in picked:
            slot = _place(rng, name, machinery(catalogue[name]), slots, window, faults, packed)
            if slot is None:
                break
            slots.append(slot)
        else:
            ordered = tuple(sorted(slots, key=lambda s: (s.start_s, s.scenario)))
            return Schedule(seed, round(duration_s, 1), quiet, tail, ordered)
    raise ScheduleError(
        f"no room for {name} beside the faults it conflicts with "
        f"({', '.join(p.scenario for p in slots if set(p.machinery) & set(machinery(catalogue[name])))}): "
        "give a longer --duration or fewer --faults"
    )


def _place(
    rng: random.Random,
    name: str,
    touches: tuple[str, ...],
    placed: Sequence[Slot],
    window: tuple[float, float],
    faults: int,
    packed: bool = False,
) -> Slot | None:
    """Place one fault at random where it overlaps none of the placed faults it conflicts with.

    Its hold is drawn first (the shortest one if that one leaves no room); its start is then
    drawn evenly among the free starts. Packed: the shortest hold at the earliest free start.
    None if there is no free start.
    """
    start, end = window
    longest = max(MIN_HOLD_S, min(MAX_HOLD_S, (end - start) / faults))
    holds = (MIN_HOLD_S,) if packed else (round(rng.uniform(MIN_HOLD_S, longest), 1), MIN_HOLD_S)
    for hold in holds:
        blocked = [
            (p.start_s - hold - CONFLICT_GAP_S, p.end_s + CONFLICT_GAP_S)
            for p in placed
            if set(p.machinery) & set(touches)
        ]
        free = _free(start, math.floor((end - hold) * 10) / 10, blocked)
        if not free:
            continue
        if packed:
            return Slot(name, free[0][0], hold, touches)
        point = rng.uniform(0, sum(b - a for a, b in free))
        for a, b in free:
            if point <= b - a:
                return Slot(name, min(max(round(a + point, 1), a), b), hold, touches)
            point -= b - a
        a, b = free[-1]
        return Slot(name, b, hold, touches)
    return None


def _free(
    low: float, high: float, blocked: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Return the closed stretches of [low, high] outside every open blocked interval."""
    free = [(low, high)] if low <= high else []
    for b_low, b_high in blocked:
        rest = []
        for a, b in free:
            if b <= b_low or a >= b_high:
                rest.append((a, b))
                continue
            if a <= b_low:
                rest.append((a, b_low))
            if b >= b_high:
                rest.append((b_high, b))
        free = rest
    return free
