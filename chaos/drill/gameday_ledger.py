"""What a game day saw: each fault's injection and revert, and whom each alert is credited to.

Prometheus's firing alerts are read every second. An alert that starts firing
while faults are on is credited to each of them, with the seconds since that
fault went in; one that starts with no fault on, within GRACE_S of a revert
(alerts lag: `for:` durations, 30 s windows), to the faults reverted that
recently. A fault still on is the likelier cause than one already gone, so the
grace never adds a reverted fault beside one that is on. One that starts with
no fault on or recent is a false positive, timed until it resolves. Alerts already firing when the day starts
are "firing at rest": not credited to anything.

The injection log (JSON lines, flushed as each event happens) is the record a
killed game day leaves behind.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

#: After a revert, alerts that start firing are still credited to the fault this long.
GRACE_S = 60.0


@dataclass
class FaultRun:
    """One scheduled fault: what it injects, when it went in and out, the alerts it set off."""

    scenario: str
    planned_start_s: float
    hold_s: float
    steps: list[str]
    injected_s: float | None = None
    reverted_s: float | None = None
    #: Alert name -> seconds from injection until it started firing.
    alerts: dict[str, float] = field(default_factory=dict)
    #: Alerts firing when it went in (set off by something else: they cannot be credited).
    already_firing: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Reverted before its time (the day was interrupted or failed).
    cut_short: bool = False

    @property
    def planned_end_s(self) -> float:
        return round(self.planned_start_s + self.hold_s, 1)

    def suspect_at(self, now_s: float, grace_s: float) -> bool:
        """Return whether an alert starting at now_s may be this fault's doing."""
        if self.injected_s is None or now_s < self.injected_s:
            return False
        return self.reverted_s is None or now_s - self.reverted_s <= grace_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "caught": bool(self.alerts)}


@dataclass
class FalsePositive:
    """An alert that fired with no fault on or recent."""

    alert: str
    started_s: float
    ended_s: float | None = None  # None: still firing when the day ended

    def to_dict(self, end_s: float) -> dict[str, Any]:
        last = end_s if self.ended_s is None else self.ended_s
        return {**asdict(self), "duration_s": round(last - self.started_s, 1)}


class Ledger:
    """Credits alerts to faults as the firing set changes, tick by tick."""

    def __init__(self, faults: list[FaultRun], grace_s: float = GRACE_S) -> None:
        self.faults = faults
        self.grace_s = grace_s
        self.at_rest: list[str] = []
        self.false_positives: list[FalsePositive] = []
        self.firing: set[str] = set()
        self.still_firing: list[str] = []

    def start(self, firing: set[str]) -> None:
        """Note the alerts firing as the day starts."""
        self.at_rest = sorted(firing)
        self.firing = set(firing)

    def injected(self, fault: FaultRun, now_s: float) -> None:
        fault.injected_s = round(now_s, 1)
        fault.already_firing = sorted(self.firing)

    def reverted(self, fault: FaultRun, now_s: float, *, cut_short: bool = False) -> None:
        fault.reverted_s = round(now_s, 1)
        fault.cut_short = cut_short

    def observe(self, now_s: float, firing: set[str]) -> list[str]:
        """Take one reading of the firing alerts; return what changed, in words."""
        lines: list[str] = []
        for alert in sorted(self.firing - firing):
            lines.append(f"{alert} resolved")
            for fp in self.false_positives:
                if fp.alert == alert and fp.ended_s is None:
                    fp.ended_s = round(now_s, 1)
        for alert in sorted(firing - self.firing):
            suspects = [f for f in self.faults if f.suspect_at(now_s, 0.0)] or [
                f for f in self.faults if f.suspect_at(now_s, self.grace_s)
            ]
            if not suspects:
                self.false_positives.append(FalsePositive(alert, round(now_s, 1)))
                lines.append(f"{alert} firing with no fault on: a false positive")
                continue
            for fault in suspects:
                fault.alerts.setdefault(alert, round(now_s - (fault.injected_s or 0.0), 1))
            credited = ", ".join(f"{f.scenario} +{f.alerts[alert]:g}s" for f in suspects)
            lines.append(f"{alert} firing: credited to {credited}")
        self.firing = set(firing)
        return lines

    def finish(self) -> None:
        """Note the alerts still firing as the day ends."""
        self.still_firing = sorted(self.firing)

    def summary(self, end_s: float) -> dict[str, Any]:
        """Return the alert coverage: per fault, the blind ones, false positives, at rest.

        A fault cut short with no alert yet is not called blind: it had no fair chance.
        """
        uncaught = [f for f in self.faults if f.injected_s is not None and not f.alerts]
        return {
            "faults": [f.to_dict() for f in self.faults],
            "blind": [f.scenario for f in uncaught if not f.cut_short],
            "cut_short_uncaught": [f.scenario for f in uncaught if f.cut_short],
            "not_injected": [f.scenario for f in self.faults if f.injected_s is None],
            "false_positives": [fp.to_dict(end_s) for fp in self.false_positives],
            "firing_at_rest": self.at_rest,
            "still_firing_at_end": self.still_firing,
            "grace_s": self.grace_s,
        }


class InjectionLog:
    """The injection log: one JSON object a line, written and flushed as each event happens."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close)

    def write(self, event: str, offset_s: float, **fields: Any) -> dict[str, Any]:
        """Append one event with its wall time and its offset from the day's start."""
        now = datetime.now().astimezone()
        record = {
            "event": event,
            "wall_time": now.isoformat(timespec="milliseconds"),
            "offset_s": round(offset_s, 1),
            **fields,
        }
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        return record

    def close(self) -> None:
        self._file.close()


def read_log(path: Path) -> list[dict[str, Any]]:
    """Return the events of an injection log (a line cut short by a kill is left out)."""
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events
