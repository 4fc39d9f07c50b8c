"""Run a panel's queries: what the PNG renderer and the console both draw (no plotting here)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from chaos.dashboards.model import Panel
from chaos.dashboards.promql import expand_variables, legend
from chaos.monitoring.prometheus import PrometheusClient, QueryError, Series

log = logging.getLogger(__name__)


@dataclass
class PanelData:
    """What one panel's queries returned: (legend, series) pairs, or the error that stopped them."""

    panel: Panel
    series: list[tuple[str, Series]] = field(default_factory=list)
    error: str | None = None


def fetch_panel(
    client: PrometheusClient, panel: Panel, *, start: float, end: float, step_s: float
) -> PanelData:
    """Run every target of a panel; a refused query becomes the panel's error, as in Grafana."""
    data = PanelData(panel)
    for target in panel.targets:
        expr = expand_variables(target.expr, step_s=step_s, range_s=end - start)
        try:
            found = client.query_range(expr, start=start, end=end, step_s=step_s)
        except QueryError as exc:
            log.warning("panel %r: %s", panel.title, exc)
            data.error = str(exc)
            break
        data.series += [(legend(one, target.legend_format, expr), one) for one in found]
    return data
