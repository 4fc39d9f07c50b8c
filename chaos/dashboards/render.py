"""Render a Grafana dashboard's panels to PNG: the same JSON, queried with query_range.

One PNG per dashboard lays the panels out as Grafana's 24-column grid does
(gridPos), so the picture reads like the dashboard; `per_panel=True` writes
one PNG per panel instead, for reports that show a few key panels.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path

from matplotlib.figure import Figure

from chaos.dashboards import layout
from chaos.dashboards.faults import FaultWindow, fault_windows
from chaos.dashboards.model import (
    GRID_COLUMNS,
    Dashboard,
    DashboardError,
    Panel,
    load_dashboard,
)
from chaos.dashboards.panel_data import PanelData, fetch_panel
from chaos.dashboards.promql import SCRAPE_INTERVAL_S
from chaos.monitoring.prometheus import PrometheusClient, QueryError

log = logging.getLogger(__name__)

MAX_POINTS = 300  # per series; Grafana asks for about one point per pixel of panel width


def default_step_s(range_s: float) -> float:
    """Return a step that gives about MAX_POINTS points, in whole seconds, at least one scrape."""
    return float(max(SCRAPE_INTERVAL_S, math.ceil(range_s / MAX_POINTS)))


def _seconds(moment: datetime | float) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "panel"


def render_dashboard(
    dashboard: Dashboard | str | Path,
    prometheus_url: str,
    start: datetime | float,
    end: datetime | float,
    out_dir: Path,
    *,
    step_s: float | None = None,
    fault_windows: Sequence[FaultWindow] | None = None,
    per_panel: bool = False,
    panels: Collection[str | int] | None = None,
) -> list[Path]:
    """Render a dashboard from start to end to PNG files in out_dir and return their paths.

    fault_windows: the windows to shade; None runs the dashboard's annotation
    query (faultyard_fault_active), an empty list shades nothing.
    per_panel: one PNG per panel instead of one for the whole dashboard.
    panels: titles or ids of the only panels to draw, one PNG each (implies per_panel).
    Raises PrometheusUnavailableError when nothing answers at prometheus_url.
    """
    board = dashboard if isinstance(dashboard, Dashboard) else load_dashboard(dashboard)
    chosen = _choose(board, panels)
    t0, t1 = _seconds(start), _seconds(end)
    step = step_s or default_step_s(t1 - t0)
    client = PrometheusClient(prometheus_url)
    client.check()
    windows = (
        list(fault_windows)
        if fault_windows is not None
        else _annotation_windows(client, board, start=t0, end=t1, step_s=step)
    )
    data = [
        PanelData(p) if p.is_row else fetch_panel(client, p, start=t0, end=t1, step_s=step)
        for p in chosen
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    if per_panel or panels is not None:
        return [
            _panel_png(board, d, out_dir, start=t0, end=t1, step_s=step, windows=windows)
            for d in data
            if not d.panel.is_row
        ]
    return [_dashboard_png(board, data, out_dir, start=t0, end=t1, step_s=step, windows=windows)]


def _choose(board: Dashboard, wanted: Collection[str | int] | None) -> list[Panel]:
    if wanted is None:
        return list(board.panels)
    chosen = [p for p in board.panels if p.title in wanted or p.id in wanted]
    unknown = set(wanted) - {p.title for p in chosen} - {p.id for p in chosen}
    if unknown:
        raise DashboardError(f"dashboard {board.name} has no panel {sorted(map(str, unknown))}")
    return chosen


def _dashboard_png(
    board: Dashboard,
    panels: list[PanelData],
    out_dir: Path,
    *,
    start: float,
    end: float,
    step_s: float,
    windows: list[FaultWindow],
) -> Path:
    """Draw every panel where its gridPos puts it, on one page."""
    fig = Figure(
        figsize=(
            GRID_COLUMNS * layout.COLUMN_IN,
            layout.HEADER_IN + board.grid_height * layout.ROW_IN,
        ),
        dpi=layout.DPI,
        facecolor=layout.FIGURE_COLOUR,
    )
    layout.header(fig, board.title, layout.subtitle(start, end, step_s, windows))
    for data in panels:
        box = layout.grid_box(data.panel.grid)
        if data.panel.is_row:
            layout.row(fig, data.panel, box)
        else:
            layout.panel(fig, data, box, start=start, end=end, step_s=step_s, windows=windows)
    path = out_dir / f"{board.name}.png"
    fig.savefig(path, facecolor=layout.FIGURE_COLOUR)
    return path


def _annotation_windows(
    client: PrometheusClient, board: Dashboard, *, start: float, end: float, step_s: float
) -> list[FaultWindow]:
    try:
        return fault_windows(client, board, start=start, end=end, step_s=step_s)
    except QueryError as exc:
        log.warning("annotation query of %s: %s", board.name, exc)
        return []


def _panel_png(
    board: Dashboard,
    data: PanelData,
    out_dir: Path,
    *,
    start: float,
    end: float,
    step_s: float,
    windows: list[FaultWindow],
) -> Path:
    g = data.panel.grid
    # At least half the page wide and 8 rows high, so a small panel stays readable on its own.
    width, height = max(g.w, 12) * layout.COLUMN_IN, max(g.h, 8) * layout.ROW_IN
    fig = Figure(figsize=(width, height), dpi=layout.DPI, facecolor=layout.FIGURE_COLOUR)
    layout.panel(
        fig, data, (0.0, 0.0, width, height), start=start, end=end, step_s=step_s, windows=windows
    )
    path = out_dir / f"{board.name}-{data.panel.id:02d}-{_slug(data.panel.title)}.png"
    fig.savefig(path, facecolor=layout.FIGURE_COLOUR)
    return path
