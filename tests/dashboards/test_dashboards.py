"""The shipped Grafana dashboards and their provisioning files, checked without a server."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.dashboards import (
    DASHBOARDS_DIR,
    DATASOURCE_UID,
    PROVISIONING_DIR,
    Dashboard,
    DashboardError,
    dashboard_names,
    expand_variables,
    load_dashboard,
)
from chaos.dashboards.promql import metric_names
from tests.conftest import faultyard, free_port

EXPECTED = {"overview", "database", "jobs-outbox", "runtime"}
# Where the compose stack (issue #6) mounts dashboards/grafana/dashboards.
CONTAINER_DASHBOARDS = "/var/lib/grafana/dashboards"
# The jobs Prometheus scrapes (its config in chaos/monitoring/prometheus.py) and their prefixes.
KNOWN_PREFIXES = ("shop_", "pg_", "redis_", "rq_", "toxiproxy_", "faultyard_")


def dashboards() -> list[Dashboard]:
    return [load_dashboard(name) for name in dashboard_names()]


def raw(name: str) -> dict[str, object]:
    return json.loads((DASHBOARDS_DIR / f"{name}.json").read_text())


def test_the_four_dashboards_ship_with_unique_uids_and_titles() -> None:
    assert set(dashboard_names()) == EXPECTED
    boards = dashboards()
    assert len({b.uid for b in boards}) == len({b.title for b in boards}) == len(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dashboard_json_is_a_grafana_dashboard(name: str) -> None:
    data = raw(name)
    assert data["schemaVersion"] >= 36
    assert data["id"] is None  # provisioned dashboards get their id from Grafana
    assert isinstance(data["templating"], dict)
    panels = data["panels"]
    assert isinstance(panels, list)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    assert {p["type"] for p in panels} <= {"row", "timeseries", "stat"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_panel_queries_the_provisioned_prometheus(name: str) -> None:
    board = load_dashboard(name)
    panels = [p for p in board.panels if not p.is_row]
    assert len(panels) >= 8
    for panel in panels:
        assert panel.title and panel.description, panel
        assert panel.datasource_uid == DATASOURCE_UID, panel.title
        assert panel.targets, f"{panel.title} has no query"
        assert len({t.ref_id for t in panel.targets}) == len(panel.targets)
        for target in panel.targets:
            assert target.expr.strip(), panel.title
            assert target.datasource_uid == DATASOURCE_UID, panel.title


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_panels_fit_the_grid_without_overlapping(name: str) -> None:
    board = load_dashboard(name)
    cells: dict[tuple[int, int], str] = {}
    for panel in board.panels:
        g = panel.grid
        assert g.x >= 0 and g.w > 0 and g.x + g.w <= 24, panel.title
        for x in range(g.x, g.x + g.w):
            for y in range(g.y, g.y + g.h):
                assert (x, y) not in cells, f"{panel.title} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel.title


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_active_faults_are_an_annotation_on_every_dashboard(name: str) -> None:
    (annotation,) = load_dashboard(name).annotations
    assert metric_names(annotation.expr) == {"faultyard_fault_active"}
    assert annotation.datasource_uid == DATASOURCE_UID
    assert set(re.findall(r"\{\{(\w+)\}\}", annotation.title_format)) == {"kind", "target", "name"}


def test_every_expression_uses_only_grafana_builtins_and_scraped_metrics() -> None:
    for board in dashboards():
        exprs = [t.expr for _, t in board.queries()] + [a.expr for a in board.annotations]
        for expr in exprs:
            # An unknown $variable would reach Prometheus unexpanded: it raises here.
            expanded = expand_variables(expr, step_s=2, range_s=600)
            assert "$" not in expanded
            names = metric_names(expr)
            assert names, expr
            assert all(n.startswith(KNOWN_PREFIXES) or n == "up" for n in names), expr


def test_rate_windows_follow_grafanas_rate_interval() -> None:
    for board in dashboards():
        for panel, target in board.queries():
            # A fixed window would hide a fault shorter than it, or be too short for 1 s scrapes.
            outside_strings = re.sub(r'"[^"]*"', '""', target.expr)
            for window in re.findall(r"\[([^\]]+)\]", outside_strings):
                assert window == "$__rate_interval", f"{panel.title}: [{window}]"


def _load_yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), path
    return loaded


def test_datasource_provisioning_gives_the_uid_every_panel_uses() -> None:
    (path,) = (PROVISIONING_DIR / "datasources").glob("*.yml")
    provisioning = _load_yaml(path)
    assert provisioning["apiVersion"] == 1
    (source,) = provisioning["datasources"]
    assert source["uid"] == DATASOURCE_UID
    assert source["type"] == "prometheus"
    assert source["jsonData"]["timeInterval"] == "1s"  # the stack's scrape interval


def test_dashboard_provisioning_loads_the_dashboards_folder() -> None:
    (path,) = (PROVISIONING_DIR / "dashboards").glob("*.yml")
    provisioning = _load_yaml(path)
    assert provisioning["apiVersion"] == 1
    (provider,) = provisioning["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == CONTAINER_DASHBOARDS
    assert "/etc/grafana/provisioning" in path.read_text()  # the mount is documented


def test_unknown_dashboard_is_a_clear_error() -> None:
    with pytest.raises(DashboardError, match="known: database, jobs-outbox, overview, runtime"):
        load_dashboard("nope")


def test_a_dashboard_file_that_is_not_a_dashboard_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"title": "no panels"}))
    with pytest.raises(DashboardError, match="not a dashboard"):
        load_dashboard(path)


def test_panels_in_a_collapsed_row_are_read(tmp_path: Path) -> None:
    data = raw("overview")
    panels = data["panels"]
    assert isinstance(panels, list)
    row, *inside = panels[:3]
    data["panels"] = [{**row, "collapsed": True, "panels": inside}, *panels[3:]]
    path = tmp_path / "collapsed.json"
    path.write_text(json.dumps(data))
    assert {p.id for p in load_dashboard(path).panels} == {p["id"] for p in panels}


def test_cli_without_prometheus_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = faultyard(
        {**os.environ, "FAULTYARD_STATE_DIR": str(tmp_path)},
        "dashboard", "overview", "--prometheus-url", closed, "--out", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 2
    assert f"Prometheus is not reachable at {closed}" in result.stderr
    assert not list(tmp_path.glob("*.png"))


def test_asking_for_a_panel_the_dashboard_lacks_is_a_clear_error(tmp_path: Path) -> None:
    from chaos.dashboards.render import render_dashboard

    with pytest.raises(DashboardError, match=r"overview has no panel \['Nope'\]"):
        render_dashboard("overview", "http://127.0.0.1:1", 0, 60, tmp_path, panels=["Nope"])
