"""The console's dashboard API: the provisioned Grafana dashboards and their data, as JSON.

The browser draws; this side reads the same dashboard JSON Grafana is provisioned with
(chaos.dashboards.model), expands Grafana's built-in variables, and asks the stack's
Prometheus for every panel of a time range in one call, with the fault windows the
dashboard's annotation query shades and the phase changes of the runs in the range.
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request

from chaos.console.run_marks import phase_marks
from chaos.dashboards.faults import fault_windows
from chaos.dashboards.model import Dashboard, DashboardError, Panel, dashboard_names, load_dashboard
from chaos.dashboards.panel_data import fetch_panel
from chaos.dashboards.promql import SCRAPE_INTERVAL_S
from chaos.monitoring.prometheus import PrometheusClient, PrometheusError

#: About one point per two pixels of a wide panel, as Grafana asks (maxDataPoints).
MAX_POINTS = 600
#: The widest range a page may ask for: two weeks.
MAX_RANGE_S = 14 * 24 * 3600.0
DEFAULT_RANGE_S = 15 * 60.0

api = Blueprint("dashboards_api", __name__, url_prefix="/api")


def prometheus_client() -> PrometheusClient:
    """Return a client of the console's Prometheus (10 s per query)."""
    return PrometheusClient(current_app.config["PROMETHEUS_URL"], timeout_s=10.0)


def _dashboard(name: str) -> Dashboard:
    if name not in dashboard_names():
        abort(404, description=f"no dashboard {name!r} (known: {', '.join(dashboard_names())})")
    try:
        return load_dashboard(name)
    except DashboardError as exc:
        abort(500, description=str(exc))


def step_for(range_s: float) -> float:
    """Return the step of a range: at most MAX_POINTS points, never finer than a scrape."""
    return float(max(SCRAPE_INTERVAL_S, math.ceil(range_s / MAX_POINTS)))


def time_range(args: dict[str, str], now: float) -> tuple[float, float]:
    """Read `from` and `to` (Unix seconds); the default is the last 15 minutes.

    400 for a range that is not numbers, ends before it starts, or is wider than two weeks.
    """
    try:
        end = float(args.get("to", now))
        start = float(args.get("from", end - DEFAULT_RANGE_S))
    except ValueError:
        abort(400, description="from and to are Unix seconds")
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        abort(400, description="the range must end after it starts")
    if end - start > MAX_RANGE_S:
        abort(400, description=f"the range is wider than {MAX_RANGE_S / 86400:g} days")
    return start, end


def panel_json(panel: Panel) -> dict[str, Any]:
    """Return what the page needs to lay out and label a panel."""
    return {
        "id": panel.id,
        "type": panel.type,
        "title": panel.title,
        "description": panel.description,
        "grid": {"x": panel.grid.x, "y": panel.grid.y, "w": panel.grid.w, "h": panel.grid.h},
        "unit": panel.unit,
        "min": panel.min_value,
        "thresholds": [{"value": v, "color": c} for v, c in panel.thresholds],
    }


def panel_json_data(
    client: PrometheusClient, panel: Panel, *, start: float, end: float, step_s: float
) -> dict[str, Any]:
    """Run every target of a panel (as the PNG renderer does) for the browser: NaN is null."""
    data = fetch_panel(client, panel, start=start, end=end, step_s=step_s)
    series = [
        {
            "label": label,
            "times": one.times,
            "values": [None if math.isnan(v) or math.isinf(v) else v for v in one.values],
        }
        for label, one in data.series
    ]
    return {"series": series, "error": data.error}


def panels_data(
    client: PrometheusClient, board: Dashboard, *, start: float, end: float, step_s: float
) -> dict[str, Any]:
    """Every panel's series (rows left out) by panel id; 502 when Prometheus cannot answer."""
    try:
        return {
            str(p.id): panel_json_data(client, p, start=start, end=end, step_s=step_s)
            for p in board.panels
            if not p.is_row
        }
    except PrometheusError as exc:
        abort(502, description=f"Prometheus at {client.url}: {exc}")


@api.get("/dashboards")
def list_dashboards() -> Any:
    """Every provisioned dashboard: name (for URLs), uid and title."""
    boards = [load_dashboard(name) for name in dashboard_names()]
    return jsonify([{"name": b.name, "uid": b.uid, "title": b.title} for b in boards])


@api.get("/dashboards/<name>")
def show_dashboard(name: str) -> Any:
    """A dashboard's panels, rows included, in Grafana's grid order."""
    board = _dashboard(name)
    return jsonify(
        {
            "name": board.name,
            "uid": board.uid,
            "title": board.title,
            "panels": [panel_json(p) for p in board.panels],
        }
    )


@api.get("/dashboards/<name>/data")
def dashboard_data(name: str) -> Any:
    """Every panel's series over `from`..`to`, and the fault windows to shade."""
    board = _dashboard(name)
    start, end = time_range(request.args, time.time())
    step_s = step_for(end - start)
    client = prometheus_client()
    panels = panels_data(client, board, start=start, end=end, step_s=step_s)
    try:
        faults = fault_windows(client, board, start=start, end=end, step_s=step_s)
    except PrometheusError as exc:
        abort(502, description=f"Prometheus at {client.url}: {exc}")
    return jsonify(
        {
            "from": start,
            "to": end,
            "step": step_s,
            "panels": panels,
            "annotations": [{"from": w.start, "to": w.end, "label": w.label} for w in faults],
            "marks": phase_marks(current_app.config["STACK"], start, end),
        }
    )
