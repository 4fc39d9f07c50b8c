"""Fault windows: the time ranges a dashboard shades, from its annotation query or a run's journal."""

from __future__ import annotations

import math
from dataclasses import dataclass

from chaos.dashboards.model import Dashboard
from chaos.dashboards.promql import expand_variables, legend
from chaos.monitoring.prometheus import PrometheusClient, Series


@dataclass(frozen=True)
class FaultWindow:
    """A fault that was on from `start` to `end` (Unix seconds)."""

    start: float
    end: float
    label: str


def windows_of(series: Series, *, step_s: float, label: str) -> list[FaultWindow]:
    """Return the runs of non-zero samples of one series as windows.

    A sample stands for the step that ends at it, so a window opens one step
    before its first sample; a gap of more than one step closes it.
    """
    windows: list[FaultWindow] = []
    start: float | None = None
    last = -math.inf
    for t, v in zip(series.times, series.values, strict=True):
        on = not math.isnan(v) and v != 0
        if on and start is not None and t - last > step_s * 1.5:
            windows.append(FaultWindow(start, last, label))
            start = None
        if on:
            if start is None:
                start = t - step_s
            last = t
        elif start is not None:
            windows.append(FaultWindow(start, last, label))
            start = None
    if start is not None:
        windows.append(FaultWindow(start, last, label))
    return windows


def fault_windows(
    client: PrometheusClient, dashboard: Dashboard, *, start: float, end: float, step_s: float
) -> list[FaultWindow]:
    """Run the dashboard's annotation queries and return when each fault was on."""
    windows: list[FaultWindow] = []
    for annotation in dashboard.annotations:
        expr = expand_variables(annotation.expr, step_s=step_s, range_s=end - start)
        for series in client.query_range(expr, start=start, end=end, step_s=step_s):
            label = legend(series, annotation.title_format, annotation.expr)
            windows.extend(windows_of(series, step_s=step_s, label=label))
    return sorted(windows, key=lambda w: w.start)
