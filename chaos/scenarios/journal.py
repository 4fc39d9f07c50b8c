"""The run's journal: every phase, fault and probe reading, written to JSON as the run goes.

Like Chaos Toolkit's journal, every step is a record with a status, a start, an
end, its output and its error. Times are Unix seconds; `offset_s` fields are
seconds since the run started, easier to read. The file is rewritten (atomically)
after every phase, so a run cut short still leaves a journal of what it did.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal

PhaseStatus = Literal["running", "succeeded", "failed", "interrupted", "error", "skipped"]
#: The phases of a run, in order.
PHASES = ("preflight", "baseline", "inject", "observe", "rollback", "recovery", "report")


@dataclass
class PhaseRecord:
    """One phase: when it ran, how it ended, and what it found."""

    name: str
    start: float
    end: float | None = None
    status: PhaseStatus = "running"
    output: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def duration_s(self) -> float | None:
        """Return how long the phase took (None while it runs)."""
        return None if self.end is None else self.end - self.start


@dataclass
class FaultRecord:
    """One fault (or fix step) the run applied, and when it was applied and reverted."""

    kind: str
    description: str
    spec: dict[str, Any]
    applied_at: float | None = None
    reverted_at: float | None = None
    error: str | None = None


@dataclass
class Reading:
    """One evaluation of one probe."""

    at: float
    phase: str
    value: float | None
    holds: bool
    error: str | None = None
    detail: str | None = None
    #: The query answered, but with nothing to compare (no series, NaN): not a failure to read.
    no_data: bool = False


@dataclass
class ProbeLog:
    """Everything one probe saw during the run."""

    name: str
    role: Literal["symptom", "slo"]
    kind: str
    condition: str
    description: str
    #: A symptom the fault itself causes (it may show with the fix on); see model._Probe.
    caused_by_fault: bool = False
    readings: list[Reading] = field(default_factory=list)

    def first_held(self, phase: str) -> Reading | None:
        """Return the first reading of a phase at which the probe held."""
        return next((r for r in self.readings if r.phase == phase and r.holds), None)

    def of(self, phase: str) -> list[Reading]:
        """Return the readings of one phase."""
        return [r for r in self.readings if r.phase == phase]


@dataclass(frozen=True)
class InvariantCount:
    """One business invariant over the run: how often it broke (see chaos.scenarios.invariants)."""

    name: str
    #: None: it could not be read (`detail` says why).
    count: int | None
    description: str
    detail: str = ""


@dataclass
class Journal:
    """The whole run."""

    scenario: str
    mode: Literal["default", "fixed"]
    options: dict[str, Any]
    definition: dict[str, Any]
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    phases: list[PhaseRecord] = field(default_factory=list)
    faults: list[FaultRecord] = field(default_factory=list)
    probes: dict[str, ProbeLog] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)
    #: The business invariants, read after recovery (empty when the run did not get that far).
    invariants: list[InvariantCount] = field(default_factory=list)
    verdict: str | None = None
    deviations: list[str] = field(default_factory=list)
    exit_code: int | None = None
    report_dir: str | None = None
    traceback: str | None = None
    path: Path | None = None
    #: Held while probes' readings are appended or the journal is read as a whole.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def phase(self, name: str) -> PhaseRecord | None:
        """Return the record of a phase, None if it has not started."""
        return next((p for p in self.phases if p.name == name), None)

    def begin(self, name: str) -> PhaseRecord:
        """Start a phase; the caller saves the journal once it can close the phase again."""
        record = PhaseRecord(name=name, start=time.time())
        self.phases.append(record)
        return record

    def finish(
        self, record: PhaseRecord, status: PhaseStatus, *, error: str | None = None
    ) -> PhaseRecord:
        """End a phase with a status, and save the journal."""
        record.end = time.time()
        record.status = status
        record.error = error
        self.save()
        return record

    def offset(self, moment: float | None) -> float | None:
        """Return seconds since the run started (None stays None)."""
        return None if moment is None else round(moment - self.started_at, 3)

    def to_dict(self) -> dict[str, Any]:
        """Return the journal as JSON-ready data."""
        with self.lock:  # asdict() would try to copy the lock: convert field by field
            data = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.repr}
            data.pop("path")
        for phase, raw in zip(self.phases, data["phases"], strict=True):
            raw["duration_s"] = None if phase.duration_s is None else round(phase.duration_s, 3)
            raw["start_offset_s"] = self.offset(phase.start)
        data["duration_s"] = (
            None if self.ended_at is None else round(self.ended_at - self.started_at, 3)
        )
        return data

    def save(self) -> None:
        """Write the journal to its file, if it has one (a reader never sees half a file)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        os.replace(tmp, self.path)


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
