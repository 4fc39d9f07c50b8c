"""A game day's report: gameday.json (the summary) and gameday.md (the alert-coverage matrix)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

JSON_NAME = "gameday.json"
MARKDOWN_NAME = "gameday.md"


def write(out_dir: Path, summary: dict[str, Any]) -> None:
    """Write the summary as JSON and as Markdown into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / JSON_NAME).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (out_dir / MARKDOWN_NAME).write_text("\n".join(markdown(summary)) + "\n")


def _scenarios_option(summary: dict[str, Any]) -> str:
    names = summary.get("scenarios")
    return f" --scenarios {','.join(names)}" if names else ""


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"+{value:g}s"


def markdown(summary: dict[str, Any]) -> list[str]:
    """Return the report: how the day went, the schedule, the coverage, the blind spots, noise."""
    schedule = summary["schedule"]
    lines = [
        f"# Game day {summary['id']}",
        "",
        f"Seed {schedule['seed']} (replay: `faultyard gameday --seed {schedule['seed']} "
        f"--duration {schedule['duration_s']:g}s --faults {len(schedule['slots'])}"
        f"{_scenarios_option(summary)}`), {schedule['duration_s']:g} s planned, "
        f"{summary['elapsed_s']:g} s run; started {summary['started_at']}.",
        "",
        *_how_it_ended(summary),
        "## Schedule and alert coverage",
        "",
        f"Quiet start {schedule['quiet_s']:g} s, tail {schedule['tail_s']:g} s. An alert is "
        "credited to every fault on when it starts firing or, with none on, to those reverted "
        f"less than {summary['grace_s']:g} s before (seconds after that fault's injection).",
        "",
        "| fault | planned | injected | reverted | alerts fired (after injection) | "
        "already firing at injection |",
        "|---|---|---|---|---|---|",
    ]
    for fault in summary["faults"]:
        fired = ", ".join(
            f"{a} ({s:g}s)" for a, s in sorted(fault["alerts"].items(), key=lambda x: x[1])
        )
        if fault["injected_s"] is None:
            fired = "not injected"
        elif fault["cut_short"] and not fired:
            fired = "none (cut short)"
        lines.append(
            f"| {fault['scenario']} | +{fault['planned_start_s']:g}s for {fault['hold_s']:g}s | "
            f"{_seconds(fault['injected_s'])} | {_seconds(fault['reverted_s'])} | "
            f"{fired or '**none: blind**'} | {', '.join(fault['already_firing']) or '-'} |"
        )
    return [*lines, "", *_blind(summary), *_noise(summary), *_steps(summary)]


def _how_it_ended(summary: dict[str, Any]) -> list[str]:
    lines = []
    if summary.get("interrupted"):
        lines.append(f"**Interrupted by {summary['interrupted']}**: the report covers what ran.")
    if summary.get("error"):
        lines.append(f"**Ended on an error**: {summary['error']}")
    if summary.get("left_over"):
        lines.append("**Not everything could be undone**: run `faultyard reset`.")
        lines += [f"- {line}" for line in summary["left_over"]]
    return [*lines, ""] if lines else []


def _blind(summary: dict[str, Any]) -> list[str]:
    blind = summary["blind"]
    lines = ["## Blind spots", ""]
    short = summary.get("cut_short_uncaught") or []
    if short:
        lines += [f"Cut short before any alert fired (not counted): {', '.join(short)}.", ""]
    if not blind:
        return [*lines, "Every fault that ran its time set off at least one alert.", ""]
    lines.append("No alert started firing for these faults: the alerting is blind to them.")
    lines.append("")
    for name in blind:
        fault = next(f for f in summary["faults"] if f["scenario"] == name)
        masked = fault["already_firing"]
        note = f" (firing already when it went in: {', '.join(masked)})" if masked else ""
        lines.append(f"- **{name}**{note}")
    return [*lines, ""]


def _noise(summary: dict[str, Any]) -> list[str]:
    lines = ["## False positives", ""]
    fps = summary["false_positives"]
    if fps:
        lines += ["| alert | started | ended | lasted |", "|---|---|---|---|"]
        lines += [
            f"| {fp['alert']} | +{fp['started_s']:g}s | "
            f"{'still firing' if fp['ended_s'] is None else _seconds(fp['ended_s'])} | "
            f"{fp['duration_s']:g}s |"
            for fp in fps
        ]
    else:
        lines.append("No alert started firing with no fault on or recent.")
    lines.append("")
    rest = ", ".join(summary["firing_at_rest"]) or "none"
    lines.append(f"Firing at rest, as the day started (credited to nothing): {rest}.")
    end = ", ".join(summary["still_firing_at_end"]) or "none"
    lines.append(f"Still firing as the day ended: {end}.")
    return [*lines, ""]


def _steps(summary: dict[str, Any]) -> list[str]:
    lines = ["## What each fault injects", ""]
    for fault in summary["faults"]:
        lines.append(f"- {fault['scenario']}: {'; '.join(fault['steps'])}")
        lines += [f"  - error: {e}" for e in fault["errors"]]
    return [*lines, "", "The injection log, event by event: `injections.jsonl`."]
