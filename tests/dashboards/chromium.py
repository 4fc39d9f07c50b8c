"""Headless Chromium for the console's tests: Debian's chromium and chromedriver, driven by
selenium, and what the tests read from the page in one JS call (no stale element)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

WAIT_S = 30


def program(name: str) -> str:
    """Return the path of a program `make setup` installs."""
    path = shutil.which(name)
    assert path, f"{name} not found: `make setup` installs Debian's chromium and chromium-driver"
    return path


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """Start headless Chromium (its console messages kept) and quit it afterwards."""
    options = webdriver.ChromeOptions()
    options.binary_location = program("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1600,1400", "--disable-gpu"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=program("chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def view_state(browser: webdriver.Chrome) -> dict[str, Any]:
    """Return the charts' range, fetch count, errors, fault windows and phase marks."""
    return dict(
        browser.execute_script(
            "const s = window.faultyardConsole.state;"
            "return {from: s.from, to: s.to, fetches: s.fetches, errors: s.errors,"
            " annotations: s.annotations, marks: s.marks, lastFrom: s.lastData && s.lastData.from,"
            " lastTo: s.lastData && s.lastData.to};"
        )
    )


def fetched_more_than(browser: webdriver.Chrome, count: int) -> None:
    """Wait until the charts have fetched their data more than `count` times."""
    WebDriverWait(browser, WAIT_S).until(
        lambda b: (
            b.execute_script(
                "return window.faultyardConsole && window.faultyardConsole.state.fetches;"
            )
            > count
        )
    )


def texts(browser: webdriver.Chrome, selector: str) -> list[str]:
    """Return the text of every element the selector matches, read at one moment (no stale
    element while the page re-renders the list)."""
    return list(
        browser.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);",
            selector,
        )
    )


def severe_console_lines(browser: webdriver.Chrome) -> list[str]:
    """Return the page's console errors since the last call."""
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
