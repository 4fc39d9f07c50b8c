"""The console's scenarios and runs as JSON: the catalogue, the runs of the stack, one run live.

A run's page follows its journal (phases, faults, every probe's readings) and draws
its scenario's key series from Prometheus with the dashboards' own code, the run's
fault window shaded and its phases marked. Starting a run needs the admin token.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request

from chaos.console.auth import require_admin
from chaos.console.dashboards_api import (
    panel_json,
    panels_data,
    prometheus_client,
    step_for,
    time_range,
)
from chaos.console.run_launcher import RunRefused, start_run
from chaos.console.run_marks import journal_fault_window, journal_marks
from chaos.drill.state import in_progress
from chaos.errors import FaultyardError
from chaos.scenarios.catalogue import load_catalogue
from chaos.scenarios.model import Scenario
from chaos.scenarios.report import key_series_board
from chaos.scenarios.run_index import RunEntry, find_run, recent_runs, running_run
from chaos.settings import StackSettings

runs_api = Blueprint("runs_api", __name__, url_prefix="/api")


def _settings() -> StackSettings:
    settings: StackSettings = current_app.config["STACK"]
    return settings


def drill_running() -> bool:
    """Return whether a drill runs (the catalogue then hides its guides)."""
    return in_progress(_settings()) is not None


def scenario_json(scenario: Scenario, *, with_guide: bool) -> dict[str, Any]:
    """Return what the catalogue page shows of a scenario (the guide only outside drills)."""
    data: dict[str, Any] = {
        "name": scenario.name,
        "title": scenario.title,
        "difficulty": scenario.difficulty,
    }
    if with_guide:
        data["page"] = scenario.page
        data["guide"] = scenario.guide.model_dump(mode="json")
    return data


def run_or_404(run_id: str) -> tuple[RunEntry, dict[str, Any]]:
    """Return a run of the index and its journal; 404 if either is missing."""
    entry = find_run(_settings(), run_id)
    journal = entry.load_journal() if entry is not None else None
    if entry is None or journal is None:
        abort(404, description=f"no run {run_id!r} in this stack's run index")
    return entry, journal


def run_summary(entry: RunEntry, journal: dict[str, Any]) -> dict[str, Any]:
    """Return a run as the runs list shows it."""
    phases = journal.get("phases", [])
    ended = journal.get("ended_at") is not None
    return {
        "id": entry.id,
        "scenario": entry.scenario,
        "mode": entry.mode,
        "started_at": entry.started_at,
        "ended_at": journal.get("ended_at"),
        "phase": phases[-1]["name"] if phases else None,
        "verdict": journal.get("verdict"),
        "exit_code": journal.get("exit_code"),
        # Not ended, and its process gone (killed): it will never end.
        "stopped": not ended and not entry.process_alive(),
    }


@runs_api.get("/scenarios")
def list_scenarios() -> Any:
    """The catalogue: title and difficulty; outside drills, the page and the guide too."""
    with_guide = not drill_running()
    scenarios = [scenario_json(s, with_guide=with_guide) for s in load_catalogue().values()]
    return jsonify({"drill_running": not with_guide, "scenarios": scenarios})


@runs_api.get("/runs")
def list_runs() -> Any:
    """The stack's runs, newest first, with the one in progress if any."""
    runs = []
    for entry in recent_runs(_settings(), limit=50):
        journal = entry.load_journal()
        if journal is not None:
            runs.append(run_summary(entry, journal))
    busy = running_run(_settings())
    return jsonify({"runs": runs, "running": busy.id if busy else None})


@runs_api.get("/runs/<run_id>")
def show_run(run_id: str) -> Any:
    """One run's journal as it stands (its scenario's definition left out), live while it runs."""
    entry, journal = run_or_404(run_id)
    journal.pop("definition", None)
    report_ready = (entry.folder / "report.md").is_file() and journal.get("ended_at") is not None
    return jsonify(
        {
            **run_summary(entry, journal),
            "journal": journal,
            "fault_window": journal_fault_window(journal),
            "marks": journal_marks(entry, journal),
            "report": f"/runs/{entry.id}/report/" if report_ready else None,
        }
    )


@runs_api.get("/runs/<run_id>/board")
def run_board(run_id: str) -> Any:
    """The run's key series as a dashboard's panels (what dashboard.js lays out)."""
    entry, _ = run_or_404(run_id)
    board = key_series_board(load_catalogue()[entry.scenario])
    panels = [panel_json(p) for p in board.panels]
    return jsonify({"name": entry.id, "uid": entry.id, "title": board.title, "panels": panels})


@runs_api.get("/runs/<run_id>/board/data")
def run_board_data(run_id: str) -> Any:
    """The key series over `from`..`to`, the run's fault window and its phase starts."""
    entry, journal = run_or_404(run_id)
    board = key_series_board(load_catalogue()[entry.scenario])
    start, end = time_range(request.args, time.time())
    step_s = step_for(end - start)
    panels = panels_data(prometheus_client(), board, start=start, end=end, step_s=step_s)
    window = journal_fault_window(journal)
    return jsonify(
        {
            "from": start,
            "to": end,
            "step": step_s,
            "panels": panels,
            "annotations": [window] if window else [],
            "marks": journal_marks(entry, journal),
        }
    )


@runs_api.post("/runs")
@require_admin
def begin_run() -> Any:
    """Start a scenario: {"scenario": NAME, "fixed": false}; answers the run's id (201)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("scenario"), str):
        abort(400, description='send JSON {"scenario": NAME, "fixed": true|false}')
    fixed = body.get("fixed", False)
    if not isinstance(fixed, bool):
        abort(400, description="fixed is true or false")
    catalogue = load_catalogue()
    if body["scenario"] not in catalogue:
        abort(404, description=f"no scenario {body['scenario']!r} (`faultyard list`)")
    try:
        entry = start_run(_settings(), body["scenario"], fixed=fixed)
    except RunRefused as exc:
        abort(409, description=str(exc))
    except FaultyardError as exc:
        abort(500, description=str(exc))
    return jsonify({"id": entry.id, "url": f"/runs/{entry.id}"}), 201
