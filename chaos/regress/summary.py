"""The resilience score and the Markdown summary of a test run's chaos items.

The score is the share of scenarios that behaved as their mode expects: with
the fix on (fixed), the share whose SLO held; with the bug on (bug), the share
whose every symptom appeared. Headroom is, per scenario and SLO probe, the worst
observe reading as a share of its limit (chaos.regress.findings.usage_of). The
business invariants get a table of their own: one row per scenario, one column
per invariant (judged in fixed mode, reported in bug mode).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from chaos.regress.findings import ProbeResult
from chaos.regress.record import RunRecord

EXPECTATION = {
    "fixed": "each scenario with its fix on: the SLO must hold and the bug's symptoms stay away",
    "bug": "each scenario with its bug on: every symptom must appear",
}


def score(records: list[RunRecord]) -> tuple[int, int]:
    """Return (scenarios as expected, scenarios judged); an interrupted run is not judged."""
    judged = [r for r in records if r.outcome != "interrupted"]
    return sum(r.outcome == "passed" for r in judged), len(judged)


def headline(records: list[RunRecord], mode: str) -> str:
    """Return the score in one line."""
    passed, total = score(records)
    share = f"{passed / total:.0%}" if total else "-"
    cut = len(records) - total
    interrupted = f" ({cut} interrupted)" if cut else ""
    if mode == "fixed":
        return (
            f"resilience score {share}: {passed} of {total} scenarios held their SLO{interrupted}"
        )
    return f"symptom score {share}: {passed} of {total} scenarios showed every symptom{interrupted}"


def share(usage: float | None) -> str:
    """Return a share of a limit as a percentage ('-' when the limit has no scale)."""
    return "-" if usage is None else f"{usage:.0%}"


def closest(record: RunRecord) -> ProbeResult | None:
    """Return the SLO probe that came closest to (or furthest past) its limit."""
    scaled = [p for p in record.slo if p.usage is not None]
    broke = [p for p in record.slo if p.broke]
    if broke:
        return broke[0]
    return max(scaled, key=lambda p: p.usage or 0.0) if scaled else None


def _closest_text(record: RunRecord) -> str:
    probe = closest(record)
    if probe is None:
        return "-"
    return f"{probe.name}: {'broke' if probe.broke else share(probe.usage)}"


def _link(record: RunRecord, base: Path) -> str:
    if not record.report_dir:
        return "-"
    target = Path(record.report_dir) / "report.md"
    return f"[report]({Path(os.path.relpath(target, base)).as_posix()})"


def _cell(text: str | None) -> str:
    return (text or "-").replace("|", "\\|").replace("\n", " ")


def _headroom_rows(records: list[RunRecord]) -> list[str]:
    rows = []
    for record in records:
        for p in record.slo:
            broke = "-" if p.turned_at_s is None else f"+{p.turned_at_s:.1f}s"
            rows.append(
                f"| {record.scenario} | {p.name} | `{_cell(p.limit)}` | {_cell(p.worst_shown)} | "
                f"{share(p.usage)} | {p.held}/{p.readings} | {broke} |"
            )
    return rows


def _symptom_rows(records: list[RunRecord]) -> list[str]:
    rows = []
    for record in records:
        for p in record.probes:
            if p.role == "symptom":
                turned = "never" if p.turned_at_s is None else f"+{p.turned_at_s:.1f}s"
                rows.append(
                    f"| {record.scenario} | {p.name} | `{_cell(p.limit)}` | {turned} | "
                    f"{_cell(p.worst_shown)} |"
                )
    return rows


def invariants_text(record: RunRecord) -> str:
    """Return the invariants in a few words: `none broken`, or each broken one and its count."""
    if not record.invariants:
        return "not read"
    unread = [c.name for c in record.invariants if c.count is None]
    broken = [f"{c.name} {c.count}" for c in record.broken_invariants]
    if unread:
        broken.append(f"not read: {', '.join(unread)}")
    return ", ".join(broken) or "none broken"


def _invariant_section(records: list[RunRecord], mode: str) -> list[str]:
    names = list(dict.fromkeys(c.name for r in records for c in r.invariants))
    lines = ["", "## Business invariants", ""]
    lines.append(
        "Counted over each run once it recovered (`-`: not read). "
        + (
            "With the fix on, each must be 0: a count above 0 fails the scenario."
            if mode == "fixed"
            else "With the bug on they are reported, not judged: the bugs break them on purpose."
        )
    )
    lines += ["", "| scenario | " + " | ".join(names) + " |"]
    lines.append("|---|" + "---|" * len(names))
    for record in records:
        counts = {c.name: c.count for c in record.invariants}
        cells = ["-" if counts.get(n) is None else str(counts[n]) for n in names]
        lines.append(f"| {record.scenario} | " + " | ".join(cells) + " |")
    return lines


def _clock(moment: float) -> str:
    return datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M:%S")


def markdown(
    records: list[RunRecord], mode: str, base: Path, *, run: dict[str, object],
    failures: dict[str, str],
) -> str:  # fmt: skip
    """Return summary.md: the score, one row per scenario, the headroom, the failures."""
    lines = [f"# Chaos regression: {headline(records, mode)}", ""]
    lines += [f"- mode: **{mode}** ({EXPECTATION[mode]})"]
    started, ended = float(run["started_at"]), float(run["ended_at"])  # type: ignore[arg-type]
    lines += [f"- run: {_clock(started)} to {_clock(ended)} ({(ended - started) / 60:.1f} min)"]
    lines += [f"- stack: {run['stack']}", "- combined journal: `journal.json`", ""]
    lines += ["## Scenarios", ""]
    lines += ["| scenario | outcome | verdict | took | closest SLO (share of its limit) | report |"]
    lines += ["|---|---|---|---|---|---|"]
    for r in records:
        took = "-" if r.duration_s is None else f"{r.duration_s:.0f}s"
        lines.append(
            f"| {r.scenario} | {r.outcome} | {_cell(r.verdict)} | {took} | "
            f"{_cell(_closest_text(r))} | {_link(r, base)} |"
        )
    lines += ["", "## Headroom: how close each SLO came to its limit", ""]
    lines += [
        "The worst reading of each SLO probe while the fault was on, as a share of its limit "
        "(100 % is the limit; `-` for a limit without a scale: a status code, a count that "
        "must stay 0 once it is not). A break counts when it lasts 2 readings in a row; "
        "`broke at` is seconds after the injection.",
        "",
        "| scenario | SLO | limit | worst | share of limit | held | broke at |",
        "|---|---|---|---|---|---|---|",
        *_headroom_rows(records),
    ]
    lines += _invariant_section(records, mode)
    if mode == "bug":
        lines += ["", "## Symptoms: when each appeared after the injection", ""]
        lines += [
            "| scenario | symptom | shows when | appeared | strongest |",
            "|---|---|---|---|---|",
        ]
        lines += _symptom_rows(records)
    if failures:
        lines += ["", "## Failures", ""]
        for nodeid, message in failures.items():
            lines += [f"### {nodeid}", "", "```text", message, "```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def terminal_lines(records: list[RunRecord], mode: str) -> list[str]:
    """Return the lines printed at the end of the test run."""
    width = max((len(r.scenario) for r in records), default=0)
    lines = [headline(records, mode)]
    for r in records:
        took = "-" if r.duration_s is None else f"{r.duration_s:.0f}s"
        lines.append(
            f"  {r.scenario:<{width}}  {r.outcome:<11} {took:>5}  closest SLO: {_closest_text(r)}; "
            f"invariants: {invariants_text(r)}"
        )
    return lines
