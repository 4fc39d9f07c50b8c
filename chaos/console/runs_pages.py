"""The console's pages of scenarios and runs: the catalogue, the runs list, a run live, its report.

The report is the run's own report.md shown as HTML (markdown-it, raw HTML off), its
PNG panels served from the run's report folder and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, render_template, send_from_directory
from markdown_it import MarkdownIt

from chaos.console.runs_api import drill_running, run_or_404, scenario_json
from chaos.dashboards.model import dashboard_names, load_dashboard
from chaos.scenarios.catalogue import load_catalogue

runs_pages = Blueprint("runs_pages", __name__)
#: A finished run's page shows its span and this much around it.
MARGIN_S = 30.0
#: What a report folder may serve: the report's pictures, its journal and Locust's tables.
SERVED_SUFFIXES = {".png", ".json", ".csv", ".md", ".log"}
#: Those that hold the scenario's guide or answer key (hidden while a drill runs).
GUIDE_SUFFIXES = {".json", ".md"}


def _boards() -> list[Any]:
    return [load_dashboard(name) for name in dashboard_names()]


@runs_pages.get("/scenarios")
def catalogue_page() -> str:
    """Every scenario: title, difficulty and (outside drills) the page and the guide."""
    with_guide = not drill_running()
    scenarios = [scenario_json(s, with_guide=with_guide) for s in load_catalogue().values()]
    return render_template(
        "scenarios.html", boards=_boards(), scenarios=scenarios, drill_running=not with_guide
    )


@runs_pages.get("/runs")
def runs_page() -> str:
    """The stack's runs, and a form that starts one (with the admin token)."""
    names = sorted(load_catalogue())
    return render_template("runs.html", boards=_boards(), scenario_names=names)


@runs_pages.get("/runs/<run_id>")
def run_page(run_id: str) -> str:
    """One run: phases and probes live, its key series, its logs and traces, its report."""
    entry, journal = run_or_404(run_id)
    ended = journal.get("ended_at")
    span = (entry.started_at - MARGIN_S, ended + MARGIN_S) if ended else None
    return render_template(
        "run.html",
        boards=_boards(),
        run=entry,
        title=load_catalogue()[entry.scenario].title,
        span=span,
    )


@runs_pages.get("/runs/<run_id>/report/")
def report_page(run_id: str) -> str:
    """The run's report.md as HTML (its pictures are relative: the address ends with a slash)."""
    entry, _ = run_or_404(run_id)
    _refuse_during_drill()
    try:
        text = (entry.folder / "report.md").read_text()
    except OSError:
        abort(404, description=f"run {run_id} has no report yet")
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return render_template("report.html", boards=_boards(), run_id=run_id, report_html=html)


@runs_pages.get("/runs/<run_id>/report/<name>")
def report_file(run_id: str, name: str) -> Any:
    """A file of the run's report folder (a panel's PNG, the journal, Locust's CSV)."""
    entry, _ = run_or_404(run_id)
    suffix = Path(name).suffix
    if suffix in GUIDE_SUFFIXES:
        _refuse_during_drill()
    if suffix not in SERVED_SUFFIXES or not (entry.folder / name).is_file():
        abort(404, description=f"no {name} in run {run_id}'s report")
    return send_from_directory(entry.folder, name)


def _refuse_during_drill() -> None:
    # A report holds its scenario's page, guide and answer key: a drill's page matched to a
    # past run's would give the answer away.
    if drill_running():
        abort(409, description="reports are hidden while a drill runs (they hold the guides)")
