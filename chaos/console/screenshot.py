"""`python -m chaos.console.screenshot`: a dashboard of the console during a fault, as a PNG.

Starts the stack if it is down, runs a scenario (its bug on) under its load, and has
headless Chromium (Debian's chromium and chromedriver, through selenium) photograph the
dashboard over the run: the baseline, the fault window shaded red, the symptoms, the
recovery. For the README and results/.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from chaos.settings import load_stack_settings
from chaos.stack.manager import Stack


def photograph(url: str, out: Path, *, width: int, height: int) -> None:
    """Open `url` in headless Chromium, wait for the first data, save a PNG to `out`."""
    from selenium import webdriver  # a dev dependency: `make setup` installs it
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", "--hide-scrollbars"):  # fmt: skip
        options.add_argument(argument)
    service = webdriver.ChromeService(
        executable_path=shutil.which("chromedriver") or "chromedriver"
    )
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.get(url)
        WebDriverWait(driver, 30).until(
            lambda d: d.execute_script(
                "return window.faultyardConsole && window.faultyardConsole.state.fetches;"
            )
        )
        time.sleep(0.5)  # the last chart's paint after its data arrived
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))
    finally:
        driver.quit()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos.console.screenshot", description=__doc__)
    parser.add_argument("--scenario", default="db-latency", help="the fault to show")
    parser.add_argument("--dashboard", default="overview")
    parser.add_argument("--out", type=Path, default=Path("results/console-overview.png"))
    args = parser.parse_args(argv)
    settings = load_stack_settings()
    Stack(settings).up()
    started = time.time() - 20  # a little of the quiet before
    run = subprocess.run(
        [sys.executable, "-m", "chaos", "scenario", args.scenario,
         "--report-dir", str(settings.state_path / "screenshot-runs")],
        stdout=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    if run.returncode != 0:
        raise SystemExit(f"the {args.scenario} run exited {run.returncode}: no screenshot")
    url = f"{settings.console_url}/d/{args.dashboard}?from={started:.0f}&to={time.time():.0f}"
    photograph(url, args.out, width=1600, height=1300)
    print(f"{args.out}: {args.dashboard} over a {args.scenario} run ({url})")


if __name__ == "__main__":
    main()
