"""Draw one panel's data on matplotlib axes: a time series, a stat, a row header or a message."""

from __future__ import annotations

import math
import textwrap
from datetime import datetime

import numpy as np
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

from chaos.dashboards.faults import FaultWindow
from chaos.dashboards.model import Panel
from chaos.dashboards.panel_data import PanelData
from chaos.dashboards.units import format_value
from chaos.monitoring.prometheus import Series

# Grafana's classic palette, so colours match what the same dashboard shows in Grafana.
PALETTE = (
    "#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0",
    "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477",
)  # fmt: skip
NAMED_COLOURS = {"green": "#56A64B", "orange": "#FF9830", "red": "#E02F44", "yellow": "#FADE2A"}
FAULT_COLOUR = "#E02F44"
TEXT_COLOUR = "#464C54"
MUTED_COLOUR = "#8E8E8E"
MAX_LEGEND_ENTRIES = 12
LOCAL_TZ = datetime.now().astimezone().tzinfo


def _dates(times: list[float]) -> np.ndarray:
    return mdates.date2num([datetime.fromtimestamp(t, tz=LOCAL_TZ) for t in times])


def _with_gaps(series: Series, step_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Return x (dates) and y with a NaN wherever samples are missing, so lines break there."""
    times, values = np.array(series.times), np.array(series.values, dtype=float)
    if len(times) > 1:
        breaks = np.nonzero(np.diff(times) > step_s * 1.5)[0] + 1
        times = np.insert(times, breaks, times[breaks - 1] + step_s)
        values = np.insert(values, breaks, np.nan)
    return _dates(list(times)), values


def message(ax: Axes, text: str, *, colour: str = MUTED_COLOUR) -> None:
    """Write a centred message (No data, a query error) in a panel."""
    ax.text(
        0.5,
        0.5,
        "\n".join(textwrap.wrap(text, 70)[:6]),
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=8,
        color=colour,
    )
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def shade_faults(ax: Axes, windows: list[FaultWindow]) -> None:
    """Shade each fault window, with a solid band on top as Grafana marks a region annotation."""
    for window in windows:
        left, right = _dates([window.start, window.end])
        ax.axvspan(left, right, color=FAULT_COLOUR, alpha=0.12, linewidth=0)
        ax.axvspan(left, right, ymin=0.97, ymax=1.0, color=FAULT_COLOUR, alpha=0.8, linewidth=0)


def timeseries(
    ax: Axes,
    data: PanelData,
    *,
    start: float,
    end: float,
    step_s: float,
    windows: list[FaultWindow],
    legend_columns: int,
) -> None:
    """Draw a time series panel: one line per series, the unit on the y axis, faults shaded."""
    left, right = _dates([start, end])
    ax.set_xlim(left, right)
    shade_faults(ax, windows)
    if data.error:
        message(ax, f"query error: {data.error}", colour=FAULT_COLOUR)
        return
    finite = [v for _, s in data.series for v in s.values if math.isfinite(v)]
    if not finite:
        message(ax, "No data")
        return
    for n, (name, series) in enumerate(data.series):
        x, y = _with_gaps(series, step_s)
        colour = PALETTE[n % len(PALETTE)]
        ax.plot(x, y, color=colour, linewidth=1.1, label=name)
        # A sample with no neighbour draws no line: show it as a dot, as Grafana does.
        alone = (
            np.isfinite(y)
            & ~np.isfinite(np.r_[np.nan, y[:-1]])
            & ~np.isfinite(np.r_[y[1:], np.nan])
        )
        ax.plot(x[alone], y[alone], "o", color=colour, markersize=2)
    unit = data.panel.unit
    bottom = data.panel.min_value if data.panel.min_value is not None else min(finite)
    top = max(max(finite), bottom)
    ax.set_ylim(bottom, top + (top - bottom) * 0.08 if top > bottom else bottom + 1)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_value(v, unit)))
    span_s = end - start
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=7, tz=LOCAL_TZ))
    ax.xaxis.set_major_formatter(
        mdates.DateFormatter("%H:%M" if span_s >= 1800 else "%H:%M:%S", tz=LOCAL_TZ)
    )
    ax.tick_params(labelsize=7, colors=TEXT_COLOUR, length=2)
    ax.grid(True, color="#E6E6E6", linewidth=0.6)
    for spine in ax.spines.values():
        spine.set_color("#D0D0D0")
    handles, labels = ax.get_legend_handles_labels()
    if len(handles) > MAX_LEGEND_ENTRIES:
        extra = len(handles) - MAX_LEGEND_ENTRIES + 1
        handles = handles[: MAX_LEGEND_ENTRIES - 1]
        labels = [*labels[: MAX_LEGEND_ENTRIES - 1]]
        handles.append(ax.plot([], [], color="none")[0])
        labels.append(f"+{extra} more")
    ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(0.0, -0.14),
        ncols=legend_columns,
        fontsize=6.5,
        frameon=False,
        handlelength=1.2,
        columnspacing=1.0,
        borderaxespad=0.0,
    )


def threshold_colour(panel: Panel, value: float) -> str:
    """Return the colour of the highest threshold step the value reaches."""
    colour = NAMED_COLOURS["green"]
    for limit, name in panel.thresholds:
        if limit is None or (math.isfinite(value) and value >= limit):
            colour = NAMED_COLOURS.get(name, name)
    return colour


def stat(ax: Axes, data: PanelData) -> None:
    """Draw a stat panel: the last non-null value of its first series, over a sparkline."""
    if data.error:
        message(ax, f"query error: {data.error}", colour=FAULT_COLOUR)
        return
    series = data.series[0][1] if data.series else None
    finite = [v for v in series.values if math.isfinite(v)] if series else []
    if series is None or not finite:
        message(ax, "No data")
        return
    value = finite[-1]
    colour = threshold_colour(data.panel, value)
    x, y = _dates(series.times), np.array(series.values, dtype=float)
    ax.fill_between(x, y, min(0.0, min(finite)), color=colour, alpha=0.15, linewidth=0)
    ax.plot(x, y, color=colour, alpha=0.5, linewidth=0.8)
    low, high = min(0.0, min(finite)), max(finite)
    ax.set_ylim(low, high * 2.2 if high > low else low + 1)
    ax.text(
        0.5,
        0.55,
        format_value(value, data.panel.unit),
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=22,
        fontweight="bold",
        color=colour,
    )
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
