"""`faultyard --target compose`: the same commands against compose's host ports, nothing started.

No Docker engine here: the compose stack's Toxiproxy API is stood in for by the
embedded Toxiproxy-compatible server on the port the compose stack publishes it on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from chaos.cli.common import admin_client
from chaos.settings import StackSettings
from tests.conftest import PORT_SETTINGS, eventually, faultyard, free_port


@pytest.fixture
def compose_env(tmp_path: Path) -> dict[str, str]:
    """Return a compose-mode environment: its own state folder, free host ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAULTYARD_", "TOXIPROXY"))}
    env.update({f"FAULTYARD_{n.upper()}": str(free_port()) for n in PORT_SETTINGS})
    env.update(
        FAULTYARD_STATE_DIR=str(tmp_path / "state"),
        FAULTYARD_GRAFANA_PORT=str(free_port()),
        FAULTYARD_JAEGER_PORT=str(free_port()),
        FAULTYARD_LOCUST_PORT=str(free_port()),
    )
    return env


@pytest.fixture
def toxiproxy(compose_env: dict[str, str]) -> Iterator[str]:
    """Serve a Toxiproxy API on the compose stack's Toxiproxy port; return its URL."""
    port = compose_env["FAULTYARD_TOXIPROXY_PORT"]
    process = subprocess.Popen(
        [sys.executable, "-m", "chaos", "proxy", "--host", "127.0.0.1", "--port", port],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(f"{url}/version", timeout=1).ok
        except requests.RequestException:
            return False

    try:
        eventually(answers, "the Toxiproxy API")
        proxy = {
            "name": "postgres",
            "listen": f"127.0.0.1:{free_port()}",
            "upstream": "127.0.0.1:9",
        }
        requests.post(f"{url}/proxies", json=proxy, timeout=5).raise_for_status()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_compose_settings_keep_the_native_addresses_and_their_own_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FAULTYARD_STATE_DIR", raising=False)
    native, compose = StackSettings(), StackSettings(target="compose")
    assert compose.state_dir == Path(".faultyard-compose") != native.state_dir
    for url in ("toxiproxy_api_url", "prometheus_url", "app_url", "shop_url", "database_url"):
        assert getattr(compose, url) == getattr(native, url)  # compose publishes the same ports


def test_the_cli_reads_the_compose_token(
    compose_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = Path(compose_env["FAULTYARD_STATE_DIR"])
    state.mkdir()
    (state / "admin-token").write_text("compose-token\n")
    for key, value in compose_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FAULTYARD_TARGET", "compose")
    client = admin_client()
    assert client.token == "compose-token"
    assert client.base_url == f"http://127.0.0.1:{compose_env['FAULTYARD_APP_PORT']}"


@pytest.mark.parametrize(
    ("args", "instead"),
    [
        (["up"], "make compose-up"),
        (["down"], "make compose-down"),
        (["reload", "app"], "make compose-up"),  # the shop reloads through its API: none here
        (["reload", "postgres"], "restart postgres"),
        (["logs", "app"], "logs app"),
    ],
)
def test_commands_that_run_processes_refuse(
    compose_env: dict[str, str], args: list[str], instead: str
) -> None:
    result = faultyard(compose_env, "--target", "compose", *args, timeout_s=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert instead in result.stderr
    assert not Path(compose_env["FAULTYARD_STATE_DIR"]).exists()  # nothing started or written


def test_toxics_go_to_the_compose_toxiproxy(compose_env: dict[str, str], toxiproxy: str) -> None:
    env = {**compose_env, "FAULTYARD_TARGET": "compose"}
    added = faultyard(env, "toxic", "add", "postgres", "latency", "--latency", "250", timeout_s=60)
    assert added.returncode == 0, added.stderr
    toxics = requests.get(f"{toxiproxy}/proxies/postgres/toxics", timeout=5).json()
    assert [(t["type"], t["attributes"]["latency"]) for t in toxics] == [("latency", 250)]
    listed = faultyard(env, "toxic", "list", timeout_s=60)
    assert "latency_downstream (latency downstream latency=250" in listed.stdout
    removed = faultyard(env, "toxic", "remove", "latency_downstream", timeout_s=60)
    assert removed.returncode == 0, removed.stderr
    assert requests.get(f"{toxiproxy}/proxies/postgres/toxics", timeout=5).json() == []


def test_status_checks_compose_services_and_starts_nothing(
    compose_env: dict[str, str], toxiproxy: str
) -> None:
    result = faultyard(compose_env, "--target", "compose", "status", timeout_s=120)
    assert result.returncode == 1  # most services are not there
    services_table = result.stdout.split("\n\n")[0]  # then the proxies, then scrape targets
    rows = {line.split()[0]: line for line in services_table.splitlines()}
    for name in (
        "postgres",
        "app",
        "worker-1",
        "scheduler",
        "relay",
        "grafana",
        "jaeger",
        "locust",
    ):
        assert "unhealthy" in rows[name], name
    assert "healthy" in rows["proxy"].split()[1]  # the stand-in Toxiproxy answers
    assert f"127.0.0.1:{compose_env['FAULTYARD_TOXIPROXY_PORT']}" in rows["proxy"]
    assert not (Path(compose_env["FAULTYARD_STATE_DIR"]) / "run").exists()


def test_compose_up_fails_clearly_without_an_engine(compose_env: dict[str, str]) -> None:
    env = {**compose_env, "DOCKER_HOST": f"unix://{compose_env['FAULTYARD_STATE_DIR']}.sock"}
    result = subprocess.run(
        [sys.executable, "-m", "chaos.compose", "up"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no Docker engine answers" in result.stderr or "is installed" in result.stderr
    assert "make up" in result.stderr or "make setup" in result.stderr
    assert not (Path(compose_env["FAULTYARD_STATE_DIR"]) / "admin-token").exists()
