"""Where panels go on a PNG page: Grafana's 24-column grid in inches, cards, titles, rows."""

from __future__ import annotations

import math
from datetime import datetime

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from chaos.dashboards import draw
from chaos.dashboards.faults import FaultWindow
from chaos.dashboards.model import GridPos, Panel
from chaos.dashboards.panel_data import PanelData

COLUMN_IN = 0.8  # a grid column, in inches: 24 columns make a 19.2 in (1920 px) wide page
ROW_IN = 0.36  # a grid row (Grafana's 30 px plus margins)
HEADER_IN = 0.7
DPI = 100
FIGURE_COLOUR = "#F4F5F5"
PANEL_COLOUR = "#FFFFFF"

Box = tuple[float, float, float, float]


def _card(fig: Figure, rect: Box, title: str) -> None:
    """Draw a panel's card and title; rect is (left, bottom, width, height) in figure fractions."""
    left, bottom, width, height = rect
    # A patch, not an axes: a dashboard has dozens of cards and axes are slow to draw.
    fig.patches.append(
        Rectangle(
            (left, bottom),
            width,
            height,
            transform=fig.transFigure,
            facecolor=PANEL_COLOUR,
            edgecolor="#DCDEE0",
            linewidth=0.8,
            zorder=-1,  # under the panel's axes
        )
    )
    fig_w, fig_h = fig.get_size_inches()
    fig.text(
        left + 0.12 / fig_w,
        bottom + height - 0.14 / fig_h,
        title,
        ha="left",
        va="center",
        fontsize=8.5,
        fontweight="bold",
        color=draw.TEXT_COLOUR,
    )


def grid_box(grid: GridPos) -> Box:
    """Return where a gridPos puts a panel on the page: (left, top, width, height) in inches."""
    return (
        grid.x * COLUMN_IN,
        HEADER_IN + grid.y * ROW_IN,
        grid.w * COLUMN_IN,
        grid.h * ROW_IN,
    )


def panel(
    fig: Figure,
    data: PanelData,
    box: Box,
    *,
    start: float,
    end: float,
    step_s: float,
    windows: list[FaultWindow],
) -> None:
    """Draw one panel in box = (left, top, width, height), in inches from the top left."""
    fig_w, fig_h = fig.get_size_inches()
    left, top, width, height = box
    pad = 0.05

    def rect(x: float, y: float, w: float, h: float) -> Box:
        # Inches from the top left to matplotlib's figure fractions from the bottom left.
        return (x / fig_w, 1 - (y + h) / fig_h, w / fig_w, h / fig_h)

    _card(fig, rect(left + pad, top + pad, width - 2 * pad, height - 2 * pad), data.panel.title)
    title_in = 0.3
    if data.panel.type == "stat":
        ax = fig.add_axes(rect(left + 0.15, top + title_in, width - 0.3, height - title_in - 0.1))
        ax.set_facecolor("none")
        draw.stat(ax, data)
        return
    columns = 3 if width >= 8 else 2
    names = min(len(data.series), draw.MAX_LEGEND_ENTRIES) if not data.error else 0
    legend_in = 0.14 * math.ceil(names / columns) + 0.3
    ax = fig.add_axes(
        rect(left + 0.75, top + title_in, width - 0.95, height - title_in - legend_in)
    )
    ax.set_facecolor("none")
    draw.timeseries(
        ax,
        data,
        start=start,
        end=end,
        step_s=step_s,
        windows=windows,
        legend_columns=columns,
    )


def header(fig: Figure, title: str, subtitle: str) -> None:
    """Write the dashboard's title and a line about the time range and faults at the top."""
    fig.text(0.01, 1 - 0.3 / fig.get_size_inches()[1], title, fontsize=13, fontweight="bold",
             color=draw.TEXT_COLOUR, va="center")  # fmt: skip
    fig.text(0.01, 1 - 0.55 / fig.get_size_inches()[1], subtitle, fontsize=8,
             color=draw.MUTED_COLOUR, va="center")  # fmt: skip


def subtitle(start: float, end: float, step_s: float, windows: list[FaultWindow]) -> str:
    """Describe the time range, the step and the shaded fault windows."""

    def clock(t: float) -> str:
        return datetime.fromtimestamp(t, tz=draw.LOCAL_TZ).strftime("%H:%M:%S")

    text = f"{clock(start)} to {clock(end)} ({draw.LOCAL_TZ}), step {step_s:g}s"
    if windows:
        faults = "; ".join(f"{w.label} {clock(w.start)}-{clock(w.end)}" for w in windows[:4])
        more = f" and {len(windows) - 4} more" if len(windows) > 4 else ""
        text += f"   shaded red: {faults}{more}"
    return text


def row(fig: Figure, panel: Panel, box: Box) -> None:
    """Write a row panel's title across the page, as Grafana heads a row."""
    fig_w, fig_h = fig.get_size_inches()
    left, top, _width, height = box
    fig.text((left + 0.08) / fig_w, 1 - (top + height * 0.6) / fig_h, panel.title, fontsize=10,
             fontweight="bold", color=draw.TEXT_COLOUR, va="center")  # fmt: skip
