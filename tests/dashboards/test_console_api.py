"""The console's dashboard API against the stack's real Prometheus, after traffic and a fault."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from chaos.console.app import create_app
from chaos.dashboards.model import dashboard_names, load_dashboard
from chaos.stack.manager import Stack
from tests.conftest import eventually, free_port
from tests.dashboards.conftest import TOXIC, Observed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def console(stack: Stack) -> FlaskClient:
    return create_app(stack.settings).test_client()


def _data(console: FlaskClient, name: str, start: float, end: float) -> dict[str, Any]:
    answer = console.get(f"/api/dashboards/{name}/data", query_string={"from": start, "to": end})
    assert answer.status_code == 200, answer.json
    return dict(answer.json)


def test_every_dashboard_and_its_panels_are_listed(console: FlaskClient) -> None:
    listed = console.get("/api/dashboards").json
    assert [b["name"] for b in listed] == dashboard_names()
    for name in dashboard_names():
        board = load_dashboard(name)
        panels = console.get(f"/api/dashboards/{name}").json["panels"]
        assert [p["id"] for p in panels] == [p.id for p in board.panels]
        assert all({"grid", "unit", "type", "title"} <= set(p) for p in panels)


def _empty_panels(console: FlaskClient, observed: Observed) -> list[str]:
    empty = []
    for name in dashboard_names():
        data = _data(console, name, observed.start, time.time())
        for panel_id, panel in data["panels"].items():
            values = [v for s in panel["series"] for v in s["values"] if v is not None]
            if panel["error"] or not values:
                empty.append(f"{name} panel {panel_id}: {panel['error'] or 'no data'}")
    return empty


def test_every_panel_has_data_and_the_fault_is_an_annotation(
    console: FlaskClient, observed: Observed
) -> None:
    # Scrapes are every second; the last counters appear within a few.
    eventually(lambda: not _empty_panels(console, observed), "every panel to have data", 30)
    data = _data(console, "overview", observed.start - 5, time.time())
    assert data["step"] >= 1 and data["to"] > data["from"]
    # The latency toxic on the postgres link, shaded while it was on (one scrape's slack).
    toxic = [a for a in data["annotations"] if f"postgres/{TOXIC}" in a["label"]]
    assert any(
        a["from"] <= observed.toxic_off + 2 and a["to"] >= observed.toxic_on - 2 for a in toxic
    ), data["annotations"]


def test_a_wide_range_gets_a_coarser_step(console: FlaskClient, observed: Observed) -> None:
    end = time.time()
    narrow = _data(console, "database", end - 300, end)
    wide = _data(console, "database", end - 6 * 3600, end)
    assert narrow["step"] == 1 and wide["step"] == 36  # at most 600 points per series


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ({"from": "yesterday"}, 400, "Unix seconds"),
        ({"from": 200, "to": 100}, 400, "end after it starts"),
        ({"from": 0, "to": 30 * 86400}, 400, "wider than 14 days"),
    ],
)
def test_bad_ranges_are_refused_in_json(
    console: FlaskClient, query: dict[str, Any], status: int, says: str
) -> None:
    answer = console.get("/api/dashboards/overview/data", query_string=query)
    assert answer.status_code == status and says in answer.json["error"]


def test_an_unknown_dashboard_is_404_naming_the_known_ones(console: FlaskClient) -> None:
    answer = console.get("/api/dashboards/nope/data")
    assert answer.status_code == 404
    assert "overview" in answer.json["error"]
    assert console.get("/d/nope").status_code == 404


def test_prometheus_down_is_a_502_that_says_where(stack: Stack) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    console = create_app(stack.settings, prometheus_url=nowhere).test_client()
    answer = console.get("/api/dashboards/overview/data")
    assert answer.status_code == 502 and nowhere in answer.json["error"]


def test_the_stack_serves_the_console_with_its_charts(stack: Stack) -> None:
    health = requests.get(stack.settings.console_url + "/healthz", timeout=5).json()
    assert health == {"status": "ok", "uplot": True}
    page = requests.get(stack.settings.console_url + "/d/overview", timeout=5)
    assert page.status_code == 200 and "uPlot.iife.min.js" in page.text
    script = requests.get(stack.settings.console_url + "/vendor/uPlot.iife.min.js", timeout=5)
    assert script.status_code == 200 and "uPlot" in script.text
    assert requests.get(stack.settings.console_url + "/vendor/x.js", timeout=5).status_code == 404
