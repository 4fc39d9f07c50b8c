"""What the charts mark from the run journals: each phase's start, and a run's fault window.

The exporter's `faultyard_fault_active` shades when faults were on, whoever put them in;
the journals add what only a run knows: where its baseline, inject, observe, rollback
and recovery began. Journals are read from the stack's run index (chaos.scenarios.run_index).
"""

from __future__ import annotations

import time
from typing import Any

from chaos.scenarios.run_index import RunEntry, recent_runs
from chaos.settings import StackSettings

#: A run that began this long before a range may still reach into it.
LONGEST_RUN_S = 3600.0


def _mark(entry: RunEntry, phase: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": phase["start"],
        "label": f"{entry.scenario} ({entry.mode}): {phase['name']}",
        "run": entry.id,
        "phase": phase["name"],
    }


def journal_marks(entry: RunEntry, journal: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the start of each phase of one run's journal as marks."""
    return [_mark(entry, phase) for phase in journal.get("phases", []) if "start" in phase]


def phase_marks(settings: StackSettings, start: float, end: float) -> list[dict[str, Any]]:
    """Return the phase starts, within start..end, of every run of the stack, oldest first."""
    marks: list[dict[str, Any]] = []
    for entry in recent_runs(settings):
        if not start - LONGEST_RUN_S <= entry.started_at <= end:
            continue
        journal = entry.load_journal()
        if journal is None:
            continue
        marks += [m for m in journal_marks(entry, journal) if start <= m["at"] <= end]
    return sorted(marks, key=lambda mark: mark["at"])


def journal_fault_window(journal: dict[str, Any]) -> dict[str, Any] | None:
    """Return when a run's faults were on (first applied to last reverted, or now)."""
    faults = journal.get("faults", [])
    applied = [f["applied_at"] for f in faults if f.get("applied_at") is not None]
    if not applied:
        return None
    reverted = [f["reverted_at"] for f in faults if f.get("reverted_at") is not None]
    end = max(reverted) if reverted else (journal.get("ended_at") or time.time())
    label = "fault" if journal.get("mode") == "default" else "fault + fix"
    return {"from": min(applied), "to": end, "label": label}
