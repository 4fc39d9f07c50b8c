"""A drill practised in headless Chromium, as an SRE on call would: started from the drill page
with the admin token, paged, a hint taken, answered through the form and ended; the grade is
the CLI's, and nothing on the page named the hidden fault before it."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from chaos.drill.state import load_current
from chaos.scenarios.catalogue import load_catalogue
from chaos.stack.manager import Stack
from target_app.public import admin_token
from tests.dashboards.chromium import WAIT_S, severe_console_lines, texts
from tests.drill.test_drill_flow import seed_for
from tests.drill.test_drill_hiding import secrets_of
from tests.scenarios.test_runner import faults_on

pytestmark = pytest.mark.slow

HIDDEN = "slow-query"
#: Ending a drill rolls back and draws the debrief's panels.
GRADE_WAIT_S = 180


def _type(browser: webdriver.Chrome, element_id: str, text: str) -> None:
    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def test_a_drill_is_started_answered_and_graded_through_the_page(
    stack: Stack, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    scenario = load_catalogue()[HIDDEN]
    browser.get(f"{stack.settings.console_url}/drill")
    WebDriverWait(browser, WAIT_S).until(
        lambda b: b.find_element(By.ID, "drill-start").is_displayed()
    )
    _type(browser, "admin-token", admin_token(stack.settings.state_path) or "")
    _type(browser, "start-seed", str(seed_for([HIDDEN], control=False)))
    _type(browser, "start-quiet", "1,1")
    _type(browser, "start-from", HIDDEN)
    browser.find_element(By.ID, "start-button").click()

    # Paged: the page's text, the choices, and nothing that names the fault.
    WebDriverWait(browser, 90).until(
        lambda b: b.find_element(By.ID, "drill-page").text == scenario.page
    )
    WebDriverWait(browser, WAIT_S).until(lambda b: texts(b, "#cause-choices label"))
    assert "switch lazy_order_history" in faults_on(stack), "the fault is in"
    page = browser.page_source
    assert not [s for s in secrets_of(HIDDEN) if s in page]
    assert browser.find_element(By.ID, "drill-clock").text, "the clock runs"

    browser.find_element(By.ID, "hint-button").click()
    WebDriverWait(browser, WAIT_S).until(
        lambda b: texts(b, "#hints li") == [scenario.guide.where_to_look[0]]
    )

    right = scenario.answer.choices[scenario.answer.correct_choice]
    choices = texts(browser, "#cause-choices label")
    number = next(n for n, text in enumerate(choices, 1) if right in text)
    browser.find_element(By.ID, "answer-wrong-yes").click()
    Select(browser.find_element(By.ID, "answer-component")).select_by_value(
        scenario.answer.component
    )
    browser.find_element(By.ID, f"cause-choice-{number}").click()
    browser.find_element(By.ID, "answer-submit").click()
    # Recorded, and the page redrawn: the buttons are enabled again once it has.
    WebDriverWait(browser, WAIT_S).until(
        lambda b: "root_cause_choice" in b.find_element(By.ID, "drill-answers").text
    )
    WebDriverWait(browser, WAIT_S).until(
        expected_conditions.element_to_be_clickable((By.ID, "end-button"))
    ).click()

    # Graded as the CLI grades: detection, localisation and cause right, not mitigated, one hint.
    WebDriverWait(browser, GRADE_WAIT_S).until(
        lambda b: b.find_element(By.ID, "grade").is_displayed()
    )
    state = load_current(stack.settings)
    assert state is not None and state.grade is not None
    assert [level["points"] for level in state.grade["levels"]] == [20, 20, 30, 0]
    assert state.grade["total"] == 65 and state.grade["scenario"] == HIDDEN
    assert browser.find_element(By.ID, "grade-total").text.startswith("65")
    assert HIDDEN in browser.find_element(By.ID, "grade-scenario").text
    assert faults_on(stack) == [], "ended: the fault is rolled back"
    assert severe_console_lines(browser) == []
