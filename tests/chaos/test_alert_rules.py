"""Prometheus's config and alert rules, checked by promtool (no stack needed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from chaos.monitoring import prometheus
from chaos.settings import load_stack_settings

ALERTS_TEST = prometheus.PROMETHEUS_DIR / "alerts_test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool (Debian's prometheus package) and return its result."""
    program = shutil.which("promtool")
    if program is None:
        pytest.fail("promtool not found; run `make setup` (Debian package prometheus)")
    return subprocess.run([program, *args], capture_output=True, text=True, timeout=60, check=False)


def test_alert_rules_are_valid() -> None:
    result = promtool("check", "rules", str(prometheus.ALERT_RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_rules_pass_their_unit_tests() -> None:
    result = promtool("test", "rules", str(ALERTS_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_quiet() -> None:
    alerts = re.findall(r"^\s+- alert: (\w+)$", prometheus.ALERT_RULES.read_text(), re.M)
    assert len(alerts) >= 9
    cases = re.findall(r"alertname: (\w+)\n\s+exp_alerts:( \[\])?", ALERTS_TEST.read_text(), re.M)
    firing = {name for name, quiet in cases if not quiet}
    quiet = {name for name, quiet in cases if quiet}
    assert set(alerts) <= firing, f"never tested firing: {set(alerts) - firing}"
    assert set(alerts) <= quiet, f"never tested quiet: {set(alerts) - quiet}"


def test_generated_config_is_valid_and_scrapes_every_job(tmp_path: Path) -> None:
    settings = load_stack_settings(state_dir=tmp_path, prometheus_port=29090, app_port=28001)
    path = prometheus.write_config(settings)
    result = promtool("check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout

    body = json.loads(path.read_text().split("\n", 1)[1])  # after the comment line
    assert body["global"]["scrape_interval"] == "1s"
    assert body["global"]["evaluation_interval"] == "1s"
    jobs = {c["job_name"]: c["static_configs"][0]["targets"] for c in body["scrape_configs"]}
    assert set(jobs) == {"shop", "toxiproxy", "postgres", "redis", "rq", "prometheus", "faultyard"}
    assert jobs["shop"] == ["127.0.0.1:28001"]  # the shop itself, not its proxy
    assert jobs["prometheus"] == ["127.0.0.1:29090"]
