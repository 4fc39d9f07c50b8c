"""While a drill runs, nothing the person can see names the fault or the lab's machinery."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from chaos.scenarios.catalogue import load_catalogue
from chaos.scenarios.model import Setting, Switch, Toxic
from chaos.stack.manager import Stack
from target_app.public import load_settings as load_shop_settings
from tests.conftest import faultyard
from tests.drill.test_drill_flow import drill, start
from tests.scenarios.test_runner import faults_on

pytestmark = pytest.mark.slow

CATALOGUE = load_catalogue()


def secrets_of(name: str) -> set[str]:
    """The scenario's name and the names of what carries its fault."""
    found = {name}
    for step in CATALOGUE[name].faults:
        if isinstance(step, Switch | Setting):
            found.add(step.name)
        if isinstance(step, Toxic):
            found.add(step.toxic_name)
    return found


def stack_process_titles(stack: Stack) -> list[str]:
    """Return the command lines of the processes of this stack and its drill (by their state folder)."""
    titles = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if process.environ().get("FAULTYARD_STATE_DIR") == str(stack.settings.state_path):
                titles.append(" ".join(process.info["cmdline"] or []))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    assert any("chaos.drill.supervisor" in title for title in titles), titles
    return titles


def revealed(text: str, secrets: set[str]) -> list[str]:
    return sorted(s for s in secrets if s in text)


@pytest.mark.parametrize("name", ["oversell", "duplicate-orders"])
def test_nothing_names_the_hidden_fault(
    stack: Stack, cli_env: dict[str, str], tmp_path: Path, name: str
) -> None:
    secrets = secrets_of(name)
    began = time.time()
    paged = start(cli_env, tmp_path, [name], control=False)
    try:
        _look_everywhere(stack, cli_env, tmp_path, secrets, paged, began)
    except BaseException:
        faultyard(cli_env, "drill", "give-up")  # the next tests get a stack without a drill
        raise

    gave_up = drill(cli_env, "give-up")
    assert gave_up["grade"]["scenario"] == name
    # Once it ends, everything shows again.
    assert faultyard(cli_env, "switch", "list").returncode == 0
    assert (
        "faultyard_faults_hidden 0.0" in requests.get(stack.settings.exporter_url, timeout=5).text
    )


def _look_everywhere(
    stack: Stack,
    cli_env: dict[str, str],
    tmp_path: Path,
    secrets: set[str],
    paged: dict[str, Any],
    began: float,
) -> None:
    """Look wherever a person on call can, and find nothing that names the fault."""
    assert faults_on(stack), "the fault is in"
    seen: dict[str, str] = {"drill start": json.dumps(paged)}

    # The commands that list or change the lab's machinery are refused, and say why.
    for args in (["switch", "list"], ["setting"], ["toxic", "list"], ["proxy", "down", "shop"],
                 ["reset"], ["scenario", "deadlock"]):  # fmt: skip
        result = faultyard(cli_env, *args)
        assert result.returncode != 0, args
        assert "while a drill runs" in result.stderr or "a drill is running" in result.stderr
        seen[" ".join(args)] = result.stdout + result.stderr
    # What the person may run: their view of the drill, the stack, logs and traces.
    for args in (
        ["drill", "status"],
        ["status"],
        # Since the drill began: earlier tests' lines may name any scenario (a console run's).
        ["logs", "--since", f"{time.time() - began + 1:.0f}s"],
        ["traces", "--slowest", "20"],
    ):
        seen[" ".join(args)] = faultyard(cli_env, *args).stdout
    # Hiding the faults does not make a service look broken (the exporter's health check
    # looked for the fault count the drill hides).
    status = faultyard(cli_env, "status")
    assert status.returncode == 0, status.stdout
    # The admin API hides its listings; the exporter its fault series.
    token = load_shop_settings({"state_dir": stack.settings.state_path}).resolved_admin_token()
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/admin/switches", "/admin/settings"):
        answer = requests.get(stack.settings.app_url + path, headers=headers, timeout=5)
        assert answer.status_code == 403 and "drill" in answer.json()["error"]
        seen[path] = answer.text
    metrics = requests.get(stack.settings.exporter_url, timeout=5).text
    assert "faultyard_faults_hidden 1.0" in metrics
    assert "faultyard_fault_active{" not in metrics
    seen["exporter"] = metrics
    proxy_metrics = requests.get(stack.settings.toxiproxy_api_url + "/metrics", timeout=5).text
    assert "toxiproxy_proxy_toxics_active" not in proxy_metrics
    seen["proxy metrics"] = proxy_metrics
    # Process titles, and the names of the files the stack and the drill keep.
    seen["processes"] = "\n".join(stack_process_titles(stack))
    seen["files"] = "\n".join(str(p.relative_to(folder)) for folder in
                              (stack.settings.state_path, tmp_path) for p in folder.rglob("*"))  # fmt: skip

    # The console's drill page and what it reads.
    for path in ("/drill", "/api/drill"):
        seen[f"console {path}"] = requests.get(stack.settings.console_url + path, timeout=5).text

    leaks = {where: revealed(text, secrets) for where, text in seen.items()}
    assert {where: names for where, names in leaks.items() if names} == {}
