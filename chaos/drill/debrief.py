"""The end of a drill: the grade, and a debrief that reveals what was injected.

reports/drill-ID/report.md says what the drill was (the scenario, or a quiet
shift), the grade level by level with why, the time from injection to each
answer, a timeline of what the person did and what the drill did, the key
series as PNG panels over the drill with the fault window shaded, and the
scenario's diagnosis guide.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from chaos.dashboards.faults import FaultWindow
from chaos.dashboards.model import series_dashboard
from chaos.drill.grading import AnswerSheet, Grade, grade
from chaos.drill.state import DrillState, append_history, load_current, locked, save
from chaos.errors import FaultyardError
from chaos.scenarios.model import Scenario
from chaos.scenarios.panel import GRAFANA_UNITS
from chaos.scenarios.report import guide_markdown
from chaos.settings import StackSettings

log = logging.getLogger(__name__)
MARGIN_S = 5.0
ANSWER_FIELDS = set(AnswerSheet.model_fields) - {"hints_used"}
LEVEL_TITLES = {
    "detection": "Detection",
    "localisation": "Localisation",
    "root_cause": "Root cause",
    "mitigation": "Mitigation",
}


def grade_of(state: DrillState, scenario: Scenario | None) -> Grade:
    """Grade the drill's answers; a drill given up scores nothing at any level."""
    known = {k: v for k, v in state.answers.items() if k in ANSWER_FIELDS}
    try:
        sheet = AnswerSheet.model_validate({**known, "hints_used": state.hints_used})
    except ValidationError as exc:  # answers the commands never write: graded as none
        log.warning("unreadable answers %s: %s", known, exc)
        sheet = AnswerSheet(hints_used=state.hints_used)
    result = grade(scenario.answer if scenario else None, sheet)
    if state.status != "gave_up":
        return result
    levels = tuple(replace(level, points=0, why="gave up") for level in result.levels)
    return replace(result, levels=levels)


def finish(
    settings: StackSettings,
    state: DrillState,
    scenario: Scenario | None,
    out_dir: Path,
    undone: list[str],
) -> DrillState:
    """Grade the drill, write its debrief, add it to the history; return the final state."""
    result = grade_of(state, scenario)
    out_dir.mkdir(parents=True, exist_ok=True)
    panels = _panels(settings, state, scenario, out_dir)
    (out_dir / "report.md").write_text(markdown(state, scenario, result, panels, undone))
    graded = {
        "total": result.total,
        "max_total": result.max_total,
        "control": result.control,
        "false_alarm": result.false_alarm,
        "hint_penalty": result.hint_penalty,
        "levels": [level.__dict__ for level in result.levels],
        "scenario": scenario.name if scenario else None,
    }
    with locked(settings):
        fresh = load_current(settings) or state  # what changed while the panels were drawn
        fresh.grade = graded
        save(settings, fresh)
        append_history(settings, fresh)
    return fresh


def _after(state: DrillState, moment: float | None) -> str:
    if moment is None or state.injected_at is None:
        return "—"
    return f"+{moment - state.injected_at:.0f} s"


def markdown(
    state: DrillState,
    scenario: Scenario | None,
    result: Grade,
    panels: list[Path],
    undone: list[str],
) -> str:
    """Return the debrief."""
    what = f"`{scenario.name}`: {scenario.title}" if scenario else "a quiet shift (no fault)"
    lines = [
        f"# Drill {state.id}",
        "",
        f"- it was: {what}",
        f"- seed {state.seed}; status: {state.status.replace('_', ' ')}; "
        f"{state.elapsed_s():.0f} s from start to end",
        f"- grade: **{result.total} / {result.max_total}**"
        + (" (a false alarm)" if result.false_alarm else ""),
        "",
        "## Grade",
        "",
        "| level | points | why | answered |",
        "|---|---|---|---|",
    ]
    for level in result.levels:
        answered = _after(state, state.answered_at.get(level.level))
        if level.level == "mitigation":
            answered = _after(state, state.mitigated_at)
        lines.append(
            f"| {LEVEL_TITLES[level.level]} | {level.points} / {level.max_points} | "
            f"{level.why} | {answered} |"
        )
    if result.hint_penalty:
        lines.append(f"| hints | -{result.hint_penalty} | {state.hints_used} used | |")
    lines += ["", "## Timeline", ""]
    events = [(e.at, e.what) for e in state.events]
    if state.injected_at is not None:
        events.append((state.injected_at, "fault injected" if scenario else "(nothing injected)"))
    for at, what in sorted(events):
        lines.append(f"- {datetime.fromtimestamp(at).strftime('%H:%M:%S')} {what}")
    lines += [f"- rollback: {line}" for line in undone]
    if state.error:
        lines += ["", f"The drill failed: {state.error}"]
    lines += ["", *(f"![{p.stem}]({p.name})" for p in panels)]
    if scenario is not None:
        lines += guide_markdown(scenario)
    return "\n".join(lines) + "\n"


def _panels(
    settings: StackSettings, state: DrillState, scenario: Scenario | None, out_dir: Path
) -> list[Path]:
    if scenario is None:
        return []
    from chaos.dashboards.render import render_dashboard  # matplotlib: only when drawing

    board = series_dashboard(
        scenario.name,
        scenario.title,
        [(s.title, s.expr, GRAFANA_UNITS[s.unit]) for s in scenario.key_series],
    )
    end = state.ended_at or state.started_at
    windows = [FaultWindow(state.injected_at, end, "fault")] if state.injected_at else []
    try:
        return render_dashboard(
            board,
            settings.prometheus_url,
            state.started_at - MARGIN_S,
            end + MARGIN_S,
            out_dir,
            step_s=1.0,
            fault_windows=windows,
            per_panel=True,
        )
    except (FaultyardError, OSError, ValueError, RuntimeError) as exc:
        log.warning("could not draw the drill's panels: %s", exc)
        return []
