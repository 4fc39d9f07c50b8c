"""The business invariants in the plugin's record, a failing item's message and summary.md.

Built from journals made by hand: no stack, no scenario run (the runs of
test_plugin.py check the same fields on a real journal).
"""

from __future__ import annotations

from pathlib import Path

from chaos.regress.findings import failure_message
from chaos.regress.record import run_record
from chaos.regress.summary import markdown, terminal_lines
from chaos.scenarios.catalogue import get_scenario
from chaos.scenarios.journal import InvariantCount, Journal

CLEAN = [
    InvariantCount("oversold_units", 0, "units sold beyond the stock"),
    InvariantCount("lost_events", 0, "events lost"),
]
BROKEN = [
    InvariantCount("oversold_units", 3, "units sold beyond the stock", "5 before, 8 after"),
    InvariantCount("lost_events", None, "events lost", "the exporter did not answer"),
]


def journal(name: str, counts: list[InvariantCount], *, exit_code: int) -> Journal:
    """A fixed-mode journal of a run that ended with these invariants (no probe readings)."""
    done = Journal(scenario=name, mode="fixed", options={"duration_s": 10}, definition={})
    done.invariants = counts
    done.exit_code, done.verdict = exit_code, "deviated" if exit_code else "as expected"
    done.ended_at = done.started_at + 30
    done.report_dir = f"/tmp/reports/{name}"
    return done


def test_a_failing_item_names_each_broken_invariant_and_its_count() -> None:
    broken = journal("oversell", BROKEN, exit_code=1)
    message = failure_message(broken, [], fixed=True)
    first, *rest = message.splitlines()
    assert first == (
        "oversell (fixed mode) deviated: invariant oversold_units broken: 3; "
        "invariant lost_events not read"
    )
    assert rest[:2] == [
        "  invariant oversold_units broken: 3 (units sold beyond the stock; 5 before, 8 after)",
        "  invariant lost_events could not be read: the exporter did not answer",
    ]
    # Bug mode: the bugs break them on purpose; they are not named as the failure.
    assert "invariant" not in failure_message(broken, [], fixed=False)


def test_the_record_and_the_summary_show_every_invariant_per_scenario(tmp_path: Path) -> None:
    records = [
        run_record(f"chaos::{name}[fixed]", "fixed", journal(name, counts, exit_code=code),
                   get_scenario(name))
        for name, counts, code in (("deadlock", CLEAN, 0), ("oversell", BROKEN, 1))
    ]  # fmt: skip
    assert records[1].to_dict()["invariants"][0] == {
        "name": "oversold_units",
        "count": 3,
        "description": "units sold beyond the stock",
        "detail": "5 before, 8 after",
    }
    run = {"started_at": 0.0, "ended_at": 60.0, "stack": "test"}
    summary = markdown(records, "fixed", tmp_path, run=run, failures={})
    assert "## Business invariants" in summary
    assert "| scenario | oversold_units | lost_events |" in summary
    assert "| deadlock | 0 | 0 |" in summary
    assert "| oversell | 3 | - |" in summary
    lines = terminal_lines(records, "fixed")
    assert lines[1].endswith("invariants: none broken")
    assert lines[2].endswith("invariants: oversold_units 3, not read: lost_events")
