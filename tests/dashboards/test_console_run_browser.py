"""A scenario run started and followed in headless Chromium, as a learner would: the runs page
refuses a wrong token, starts the run with the stack's, follows it to its verdict phase by
phase, marks its phases on its key series, and opens its report with its pictures."""

from __future__ import annotations

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from chaos.console.run_launcher import LIST_TIMEOUT_S
from chaos.scenarios.catalogue import load_catalogue
from chaos.scenarios.journal import PHASES
from chaos.stack.manager import Stack
from target_app.public import admin_token
from tests.dashboards.chromium import WAIT_S, severe_console_lines, texts, view_state

pytestmark = pytest.mark.slow

#: The quickest scenario of the catalogue in its default mode (about 22 s on this machine).
SCENARIO = "oversell"
#: A run's longest possible span: baseline, observe and recovery at their limits.
RUN_LIMIT_S = 180


def _start(browser: webdriver.Chrome, token: str) -> None:
    field = browser.find_element(By.ID, "admin-token")
    field.clear()
    field.send_keys(token)
    browser.find_element(By.ID, "run-start").click()


def test_a_run_started_in_the_browser_is_followed_to_its_report(
    stack: Stack, browser: webdriver.Chrome
) -> None:
    browser.get(f"{stack.settings.console_url}/runs?scenario={SCENARIO}")
    assert (
        Select(browser.find_element(By.ID, "run-scenario")).first_selected_option.text == SCENARIO
    )
    _start(browser, "not-the-token")
    WebDriverWait(browser, WAIT_S).until(
        lambda b: "admin token" in b.find_element(By.ID, "run-error").text
    )
    # The refusal is the only error the browser logs (Chromium reports every 401).
    refusals = severe_console_lines(browser)
    assert refusals and all("/api/runs" in line and "401" in line for line in refusals), refusals
    token = admin_token(stack.settings.state_path)
    assert token
    _start(browser, token)
    WebDriverWait(browser, LIST_TIMEOUT_S + 5).until(
        lambda b: f"/runs/{SCENARIO}-" in b.current_url
    )

    # Followed live: the verdict arrives with every phase listed, then the report's link.
    WebDriverWait(browser, RUN_LIMIT_S).until(
        lambda b: b.find_element(By.ID, "report-link").is_displayed()
    )
    verdict = browser.find_element(By.ID, "run-verdict").text
    assert verdict == "as expected (exit 0)", verdict
    phases = texts(browser, "#phases li")
    assert [p.split(" ")[0] for p in phases] == list(PHASES), phases
    assert all("(succeeded" in p for p in phases[:-1]), phases
    scenario = load_catalogue()[SCENARIO]
    probes = {p.name for p in (*scenario.symptoms, *scenario.slo)}
    assert {
        row.split("\n")[0] for row in texts(browser, "#probes tbody tr td:first-child")
    } == probes
    assert texts(browser, "#faults li"), "the faults it put in"

    # Its key series drawn over the run, its fault shaded and its phases marked.
    WebDriverWait(browser, WAIT_S).until(lambda b: len(view_state(b)["marks"]) == len(PHASES))
    seen = view_state(browser)
    assert [m["phase"] for m in seen["marks"]] == list(PHASES), seen["marks"]
    assert seen["from"] is not None and seen["annotations"], seen
    # Every panel spans the range shown (not just where its own data is): they line up.
    spans = browser.execute_script(
        "const s = window.faultyardConsole.state;"
        "return Object.values(s.panels).filter(p => p.plot)"
        ".map(p => [p.plot.scales.x.min, p.plot.scales.x.max]);"
    )
    assert len(spans) == len(scenario.key_series), spans
    assert all(span == [seen["lastFrom"], seen["lastTo"]] for span in spans), (spans, seen)
    for series in scenario.key_series:
        assert browser.find_elements(By.XPATH, f"//h2/span[text()={series.title!r}]"), series.title

    browser.find_element(By.ID, "report-link").click()
    WebDriverWait(browser, WAIT_S).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#report h1"))
    assert browser.find_element(By.CSS_SELECTOR, "#report h1").text.startswith(SCENARIO)
    loaded = browser.execute_script(
        "return [...document.querySelectorAll('#report img')].map(i => i.complete && i.naturalWidth);"
    )
    assert loaded and all(loaded), loaded
    assert severe_console_lines(browser) == []
