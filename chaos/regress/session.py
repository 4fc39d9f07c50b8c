"""A test run's chaos state: its options, its stack, what each item found, and its files."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from chaos.regress.options import ChaosOptions
from chaos.regress.record import RunRecord, write_journal
from chaos.regress.stack import SessionStack
from chaos.regress.summary import headline, markdown, score


@dataclass
class RegressRun:
    """Everything the chaos items of one test run share."""

    options: ChaosOptions
    stack: SessionStack = field(default_factory=SessionStack)
    records: list[RunRecord] = field(default_factory=list)
    #: Each failing item's message, by node id.
    failures: dict[str, str] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    written: list[Path] = field(default_factory=list)

    def add(self, record: RunRecord) -> None:
        """Keep an item's record, and rewrite the run's files (a killed run keeps its records)."""
        self.records.append(record)
        self.write(exitstatus=None)

    def pytest_failed(self, nodeid: str, why: str) -> None:
        """Record that pytest failed an item the runner passed (the score follows pytest)."""
        for record in self.records:
            if record.nodeid == nodeid and record.outcome == "passed":
                record.outcome = "failed"
                record.verdict = f"{record.verdict}; but pytest failed the item: {why}"
                self.failures[nodeid] = why
                self.write(exitstatus=None)

    def write(self, *, exitstatus: int | None) -> list[Path]:
        """Write DIR/journal.json and DIR/summary.md; return their paths (none without records)."""
        if not self.records:
            return []
        passed, total = score(self.records)
        run = {
            "mode": self.options.mode,
            "scenarios": [r.scenario for r in self.records],
            "score": {
                "passed": passed,
                "total": total,
                "share": round(passed / total, 4) if total else None,
                "headline": headline(self.records, self.options.mode),
            },
            "started_at": self.started_at,
            "ended_at": time.time(),
            "exitstatus": exitstatus,
            "stack": self.stack.describe(),
            "report_dir": str(self.options.report_dir),
        }
        journal = write_journal(self.options.report_dir / "journal.json", run, self.records)
        summary = self.options.report_dir / "summary.md"
        summary.write_text(
            markdown(
                self.records,
                self.options.mode,
                self.options.report_dir,
                run=run,
                failures=self.failures,
            )
        )
        self.written = [summary, journal]
        return self.written
