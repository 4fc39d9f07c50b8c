"""One chaos item's record, and the combined journal of a test run (DIR/journal.json).

Each item's record keeps what the summary and the combined journal need: the
mode, the outcome and the runner's verdict, the times, the report folder,
each probe measured against its limit (chaos.regress.findings) with its
readings, and the business invariants' counts. Every scenario's full journal stays in its own report folder.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos.regress.findings import ProbeResult, probe_results
from chaos.scenarios.journal import InvariantCount, Journal
from chaos.scenarios.model import Scenario

#: How an item ended: its SLO held (fixed) or every symptom appeared (bug); or not; or a signal.
Outcome = str


@dataclass
class RunRecord:
    """One scenario run by one chaos item."""

    nodeid: str
    scenario: str
    mode: str
    outcome: Outcome
    exit_code: int | None
    verdict: str | None
    deviations: list[str]
    started_at: float
    ended_at: float | None
    duration_s: float | None
    report_dir: str | None
    probes: list[ProbeResult]
    #: Every probe's readings: [seconds since the run started, phase, value, held].
    readings: dict[str, list[list[Any]]] = field(default_factory=dict)
    #: The business invariants over the run (empty: not read, the run ended before).
    invariants: list[InvariantCount] = field(default_factory=list)

    @property
    def broken_invariants(self) -> list[InvariantCount]:
        """Return the invariants above zero."""
        return [c for c in self.invariants if c.count]

    @property
    def slo(self) -> list[ProbeResult]:
        """Return the SLO probes' results."""
        return [p for p in self.probes if p.role == "slo"]

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data."""
        data = asdict(self)
        data["passed"] = self.outcome == "passed"
        return data


def run_record(nodeid: str, mode: str, journal: Journal, scenario: Scenario) -> RunRecord:
    """Return the record of a finished run (outcome from the runner's exit code)."""
    outcome = {0: "passed", 130: "interrupted", 143: "interrupted"}.get(
        journal.exit_code if journal.exit_code is not None else -1, "failed"
    )
    ended = journal.ended_at or time.time()
    return RunRecord(
        nodeid=nodeid,
        scenario=scenario.name,
        mode=mode,
        outcome=outcome,
        exit_code=journal.exit_code,
        verdict=journal.verdict,
        deviations=list(journal.deviations),
        started_at=journal.started_at,
        ended_at=journal.ended_at,
        duration_s=round(ended - journal.started_at, 1),
        report_dir=journal.report_dir,
        probes=probe_results(journal, scenario),
        readings={
            log.name: [[journal.offset(r.at), r.phase, r.value, r.holds] for r in log.readings]
            for log in journal.probes.values()
        },
        invariants=list(journal.invariants),
    )


def failed_record(nodeid: str, scenario: str, mode: str, reason: str) -> RunRecord:
    """Return the record of an item that could not run its scenario (the stack did not start)."""
    now = time.time()
    return RunRecord(
        nodeid=nodeid, scenario=scenario, mode=mode, outcome="failed", exit_code=None,
        verdict=f"error: {reason}", deviations=[], started_at=now, ended_at=now,
        duration_s=0.0, report_dir=None, probes=[],
    )  # fmt: skip


def write_journal(path: Path, run: dict[str, Any], records: list[RunRecord]) -> Path:
    """Write the combined journal: the test run, then every item (a reader never sees half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**run, "items": [record.to_dict() for record in records]}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    return path
