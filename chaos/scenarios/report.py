"""The report of a run: report.md, PNG panels of the key series, beside journal.json.

The Markdown says what was injected and when, what each probe saw and when it
turned, the business invariants, Locust's stats, the verdict, and the scenario's
diagnosis guide. The panels are drawn by chaos.dashboards from Prometheus, the
fault window shaded.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from chaos.dashboards.faults import FaultWindow
from chaos.dashboards.model import Dashboard, series_dashboard
from chaos.errors import FaultyardError
from chaos.scenarios import verdict
from chaos.scenarios.journal import Journal, ProbeLog, Reading
from chaos.scenarios.model import Scenario
from chaos.scenarios.panel import GRAFANA_UNITS, grouping_labels

log = logging.getLogger(__name__)

#: Seconds of context drawn before the run's first and after its last moment.
MARGIN_S = 5.0


def fault_window(journal: Journal) -> FaultWindow | None:
    """Return when the run's faults were on: first applied to last reverted (or now)."""
    applied = [f.applied_at for f in journal.faults if f.applied_at is not None]
    if not applied:
        return None
    reverted = [f.reverted_at for f in journal.faults if f.reverted_at is not None]
    end = max(reverted) if reverted else (journal.ended_at or max(applied))
    return FaultWindow(min(applied), end, "fault" if journal.mode == "default" else "fault + fix")


def key_series_board(scenario: Scenario) -> Dashboard:
    """Return the scenario's key series as a dashboard of one panel each (report, console)."""
    return series_dashboard(
        scenario.name,
        scenario.title,
        [(s.title, s.expr, GRAFANA_UNITS[s.unit]) for s in scenario.key_series],
        legend_formats=[
            " ".join(f"{{{{{label}}}}}" for label in grouping_labels(s.expr)) or s.title
            for s in scenario.key_series
        ],
    )


def render_panels(
    journal: Journal, scenario: Scenario, prometheus_url: str, out_dir: Path
) -> list[Path]:
    """Draw one PNG per key series over the run, the fault window shaded; return their paths."""
    from chaos.dashboards.render import render_dashboard  # matplotlib: only when drawing

    board = key_series_board(scenario)
    window = fault_window(journal)
    end = journal.ended_at or max(p.end or p.start for p in journal.phases)
    return render_dashboard(
        board,
        prometheus_url,
        journal.started_at - MARGIN_S,
        end + MARGIN_S,
        out_dir,
        step_s=1.0,
        fault_windows=[window] if window else [],
        per_panel=True,
    )


def _clock(moment: float | None) -> str:
    return "-" if moment is None else datetime.fromtimestamp(moment).strftime("%H:%M:%S")


def _plus(journal: Journal, moment: float | None) -> str:
    offset = journal.offset(moment)
    return "-" if offset is None else f"+{offset:.1f}s"


def _value(reading: Reading | None) -> str:
    if reading is None:
        return "-"
    return f"({reading.error})" if reading.error else verdict.shown(reading)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _probe_row(journal: Journal, log: ProbeLog, injected_at: float | None) -> str:
    baseline = log.of("baseline")
    observe = log.of("observe")
    recovery = log.of("recovery")
    # A symptom turns when it first holds; an SLO turns when it first breaks.
    turn = next(
        (r for r in observe if r.error is None and r.holds == (log.role == "symptom")), None
    )
    turned = f"+{turn.at - injected_at:.1f}s" if turn and injected_at else "never"
    numbers = [r.value for r in observe if r.value is not None and r.error is None]
    peak = f"{max(numbers):.4g}" if numbers else "-"
    share = f"{sum(r.holds for r in observe)}/{len(observe)}" if observe else "-"
    return (
        f"| {log.name} | {log.role} | `{_cell(log.condition)}` | "
        f"{_value(baseline[-1] if baseline else None)} | {turned} | {share} | {peak} | "
        f"{_value(recovery[-1] if recovery else None)} |"
    )


def markdown(
    journal: Journal, scenario: Scenario, panels: list[Path], panels_error: str | None = None
) -> str:
    """Return the report as Markdown."""
    injected = journal.phase("inject")
    injected_at = injected.end if injected else None
    lines = [
        f"# {scenario.name}: {scenario.title}",
        "",
        f"- mode: **{journal.mode}**"
        + (
            " (the fix on: the symptoms must stay away, the SLO must hold)"
            if journal.mode == "fixed"
            else " (the bug on: the symptoms must appear)"
        ),
        f"- verdict: **{journal.verdict}** (exit code {journal.exit_code})",
        f"- run: {_clock(journal.started_at)} to {_clock(journal.ended_at)}"
        f" ({(journal.ended_at or journal.started_at) - journal.started_at:.1f}s); "
        f"options: {', '.join(f'{k}={v}' for k, v in journal.options.items())}",
    ]
    lines += [f"- deviation: {d}" for d in journal.deviations]
    lines += ["", "## The page", "", f"> {scenario.page}", "", "## Phases", ""]
    lines += ["| phase | start | took | status | notes |", "|---|---|---|---|---|"]
    for p in journal.phases:
        notes = "; ".join(str(n) for n in p.output.get("notes", []))
        if p.error:
            notes = f"{p.error}; {notes}" if notes else p.error
        took = "-" if p.duration_s is None else f"{p.duration_s:.1f}s"
        status = "(writing this report)" if p.status == "running" else p.status
        lines.append(
            f"| {p.name} | {_plus(journal, p.start)} | {took} | {status} | {_cell(notes)} |"
        )
    lines += ["", "## What was injected, and when", ""]
    lines += ["| step | applied | reverted | error |", "|---|---|---|---|"]
    for f in journal.faults:
        lines.append(
            f"| {_cell(f.description)} | {_plus(journal, f.applied_at)} ({_clock(f.applied_at)}) | "
            f"{_plus(journal, f.reverted_at)} | {_cell(f.error or '')} |"
        )
    lines += [
        "",
        "## What each probe saw",
        "",
        "Times are after the injection: when a symptom first held, when an SLO first broke. "
        "`held` counts the observe readings at which the probe held; `peak` is its highest "
        "value while observed.",
        "",
        "| probe | role | condition | baseline | turned | held | peak | after recovery |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [_probe_row(journal, log, injected_at) for log in journal.probes.values()]
    lines += invariants_markdown(journal)
    lines += ["", "## Key series", ""]
    if panels:
        lines += [f"![{p.stem}]({p.name})" for p in panels]
    else:
        lines.append(f"(no panels: {panels_error or 'not drawn'})")
    lines += _locust(journal)
    lines += guide_markdown(scenario)
    return "\n".join(lines) + "\n"


def invariants_markdown(journal: Journal) -> list[str]:
    """Return the business invariants' section: each count over the run, and what it counts."""
    lines = ["", "## Business invariants", ""]
    if not journal.invariants:
        return [*lines, "(not read: the run ended before recovery did)"]
    lines += [
        "Read after recovery, over the orders placed since preflight and the exporter's gauges' "
        "growth since the steady state before injection. "
        + (
            "With the fix on, each must be 0."
            if journal.mode == "fixed"
            else "With the bug on, they are reported, not judged."
        ),
        "",
        "| invariant | count | what it counts | detail |",
        "|---|---|---|---|",
    ]
    for c in journal.invariants:
        count = "not read" if c.count is None else str(c.count)
        lines.append(f"| {c.name} | {count} | {_cell(c.description)} | {_cell(c.detail)} |")
    return lines


def _locust(journal: Journal) -> list[str]:
    stats = journal.load.get("stats") or {}
    rows = stats.get("requests") or []
    lines = ["", "## Load (Locust)", ""]
    if not rows:
        return [*lines, "(no Locust stats)"]
    lines += [
        "| request | count | failures | median ms | p95 ms | p99 ms | max ms | req/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        name = f"{r['method']} {r['name']}".strip()
        keys = ("requests", "failures", "median_ms", "p95_ms", "p99_ms", "max_ms", "rps")
        lines.append(f"| {_cell(name)} | " + " | ".join(_round(r[k]) for k in keys) + " |")
    failures = stats.get("failures") or []
    if failures:
        lines += ["", "| failure | request | occurrences |", "|---|---|---|"]
        for f in sorted(failures, key=lambda f: -int(f["occurrences"] or 0))[:15]:
            lines.append(
                f"| {_cell(str(f['error'])[:160])} | {f['method']} {f['name']} | {f['occurrences']} |"
            )
    return lines


def _round(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return str(value)


def guide_markdown(scenario: Scenario) -> list[str]:
    g = scenario.guide
    lines = ["", "## Diagnosis guide", "", "### Where to look", ""]
    lines += [f"- {item}" for item in g.where_to_look]
    lines += ["", "### What you will see", ""]
    lines += [f"- {item}" for item in g.what_you_will_see]
    lines += ["", "### Root cause", "", g.root_cause, "", "### Fix", "", g.fix]
    lines += ["", "### Further reading", ""]
    lines += [f"- [{link.title}]({link.url})" for link in g.further_reading]
    return lines


def write_report(
    journal: Journal, scenario: Scenario, prometheus_url: str, out_dir: Path
) -> tuple[list[Path], str | None]:
    """Draw the panels and write report.md into out_dir; return the files and a panel error."""
    error = None
    try:
        panels = render_panels(journal, scenario, prometheus_url, out_dir)
    except (FaultyardError, OSError, ValueError, RuntimeError) as exc:
        # A report without pictures still tells the story; the error says why they are missing.
        error = f"could not draw the panels: {type(exc).__name__}: {exc}"
        log.warning(error)
        panels = []
    path = out_dir / "report.md"
    path.write_text(markdown(journal, scenario, panels, error))
    return [path, *panels], error
