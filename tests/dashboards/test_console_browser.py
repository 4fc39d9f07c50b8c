"""The console in headless Chromium (Debian's chromium and chromedriver, driven by selenium):
the dashboards render with data after traffic and a fault, drag-to-zoom narrows the range,
the page formats values as the PNG renderer does, and a panel's logs link shows
the range's log lines and traces, linked by trace id."""

from __future__ import annotations

import math
import time
from datetime import datetime
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from chaos.dashboards.model import load_dashboard
from chaos.dashboards.units import FORMATTERS, format_value
from chaos.stack.manager import Stack
from tests.dashboards.chromium import (
    WAIT_S,
    fetched_more_than,
    severe_console_lines,
    texts,
    view_state,
)
from tests.dashboards.conftest import Observed

pytestmark = pytest.mark.slow


def test_the_overview_renders_every_panel_with_data_and_the_fault(
    stack: Stack, browser: webdriver.Chrome, observed: Observed, tmp_path: Path
) -> None:
    start, end = observed.start - 5, time.time() + 5
    browser.get(f"{stack.settings.console_url}/d/overview?from={start}&to={end}")
    fetched_more_than(browser, 0)
    board = load_dashboard("overview")
    panels = [p for p in board.panels if not p.is_row]
    for panel in panels:
        element = browser.find_element(By.CSS_SELECTOR, f"[data-panel-id='{panel.id}']")
        assert element.find_element(By.CSS_SELECTOR, ".error").text == "", panel.title
        assert not element.find_elements(By.CSS_SELECTOR, ".nodata"), panel.title
        if panel.type == "timeseries":
            assert element.find_elements(By.CSS_SELECTOR, "canvas"), panel.title
        else:
            value = element.find_element(By.CSS_SELECTOR, ".value").text
            assert value and value != "No data", panel.title
    state = view_state(browser)
    assert state["errors"] == [] and state["annotations"], state
    assert severe_console_lines(browser) == []
    shot = tmp_path / "overview.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_dragging_across_a_chart_zooms_into_that_stretch(
    stack: Stack, browser: webdriver.Chrome, observed: Observed
) -> None:
    start, end = observed.start - 30, time.time()
    browser.get(f"{stack.settings.console_url}/d/database?from={start}&to={end}")
    fetched_more_than(browser, 0)
    chart = browser.find_element(By.CSS_SELECTOR, ".panel.timeseries .u-over")
    width = chart.size["width"]
    ActionChains(browser).move_to_element_with_offset(chart, -width // 4, 0).click_and_hold()\
        .move_by_offset(width // 2, 0).release().perform()  # fmt: skip
    fetched_more_than(browser, 1)
    state = view_state(browser)
    assert start < state["from"] < state["to"] < end, state
    assert state["to"] - state["from"] < (end - start) * 0.7, state
    assert math.isclose(state["lastFrom"], state["from"]), state  # the data of the new range
    assert f"from={state['from']:.3f}" in browser.current_url
    assert severe_console_lines(browser) == []


def test_the_page_formats_values_as_the_png_renderer_does(
    stack: Stack, browser: webdriver.Chrome
) -> None:
    browser.get(f"{stack.settings.console_url}/d/runtime")
    fetched_more_than(browser, 0)
    values = [0.0, 0.000123, 0.0042, 0.25, 1.0, 12.5, 999.0, 1234.0, 56789.0, 3.2e6, 7.5e9,
              -0.5, 4096.0, 1.5e12]  # fmt: skip
    cases = [(v, unit) for unit in [*FORMATTERS, "unknown"] for v in values]
    shown = browser.execute_script(
        "return arguments[0].map(([v, u]) => window.faultyardUnits.formatValue(v, u));", cases
    )
    assert shown == [format_value(v, unit) for v, unit in cases]


def test_a_panels_logs_link_shows_the_ranges_lines_and_traces_linked_by_trace_id(
    stack: Stack, browser: webdriver.Chrome, observed: Observed
) -> None:
    start, end = observed.start - 5, time.time() + 5
    browser.get(f"{stack.settings.console_url}/d/overview?from={start}&to={end}")
    fetched_more_than(browser, 0)
    browser.find_element(By.CSS_SELECTOR, "a.panel-logs").click()
    rows = "#logs tbody tr"
    WebDriverWait(browser, WAIT_S).until(lambda b: b.find_elements(By.CSS_SELECTOR, rows))
    WebDriverWait(browser, WAIT_S).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#traces li"))
    shown = browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(r => r.querySelector('.time').title);",
        rows,
    )
    # Every line shown lies in the range (each time cell carries its moment, ISO 8601 in UTC).
    moments = [datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t in shown]
    assert moments and all(start - 1 <= m <= end + 1 for m in moments), (start, end, shown[:3])
    # A line logged inside a span links to its trace: a payment job's line, its trace recorded
    # (a stream's access line may name a span still open, not written yet).
    browser.find_element(By.ID, "evidence-text").send_keys("payment captured")
    WebDriverWait(browser, WAIT_S).until(
        lambda b: (
            (found := b.find_elements(By.CSS_SELECTOR, f"{rows} .message"))
            and all("payment captured" in c.text for c in found)
        )
    )
    link = browser.find_element(By.CSS_SELECTOR, "#logs a.trace-link")
    trace_id = link.get_attribute("title").removeprefix("trace ")
    # Scrolled to the middle of its list first, as a person would: not under the sticky header.
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", link)
    link.click()
    picked = f"#picked-trace details[data-trace-id='{trace_id}'] .span-tree .span-row"
    WebDriverWait(browser, WAIT_S).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, picked),
        f"trace {trace_id}: {browser.find_element(By.ID, 'picked-trace').text!r}",
    )
    # The service filter keeps one service's lines.
    browser.find_element(By.ID, "evidence-text").clear()
    Select(browser.find_element(By.ID, "evidence-service")).select_by_value("app")
    WebDriverWait(browser, WAIT_S).until(lambda b: set(texts(b, f"{rows} .service")) == {"app"})
    assert severe_console_lines(browser) == []
