"""Grafana dashboards as data: load the provisioned JSON, query Prometheus, render PNG panels."""

from chaos.dashboards.faults import FaultWindow
from chaos.dashboards.model import (
    DASHBOARDS_DIR,
    DATASOURCE_UID,
    PROVISIONING_DIR,
    Dashboard,
    DashboardError,
    Panel,
    Target,
    dashboard_names,
    load_dashboard,
)
from chaos.dashboards.promql import expand_variables
from chaos.monitoring.prometheus import (
    PrometheusClient,
    PrometheusError,
    PrometheusUnavailableError,
    QueryError,
)

__all__ = [
    "DASHBOARDS_DIR",
    "DATASOURCE_UID",
    "PROVISIONING_DIR",
    "Dashboard",
    "DashboardError",
    "FaultWindow",
    "Panel",
    "PrometheusClient",
    "PrometheusError",
    "PrometheusUnavailableError",
    "QueryError",
    "Target",
    "dashboard_names",
    "expand_variables",
    "load_dashboard",
    "render_dashboard",
]


def __getattr__(name: str) -> object:
    # matplotlib costs half a second to import: only the renderer pays for it.
    if name == "render_dashboard":
        from chaos.dashboards.render import render_dashboard

        return render_dashboard
    raise AttributeError(name)
