"""The `faultyard` command as a user types it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.settings import load_stack_settings
from chaos.stack import process
from chaos.stack.manager import Stack
from chaos.toxiproxy import ToxiproxyClient, ToxiproxyError
from tests.conftest import (
    PORT_SETTINGS,
    eventually,
    faultyard,
    free_port,
    port_env,
    reachable_temp_dir,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def other_env() -> Iterator[dict[str, str]]:
    """A second, empty state folder with ports of its own."""
    state = reachable_temp_dir("faultyard-cli-")
    settings = load_stack_settings(state_dir=state, **{name: free_port() for name in PORT_SETTINGS})
    yield {
        **os.environ,
        **port_env(settings),
        "FAULTYARD_APP_WORKERS": "1",
        "FAULTYARD_RQ_WORKERS": "1",
    }
    shutil.rmtree(state, ignore_errors=True)


def test_help_lists_the_commands() -> None:
    result = faultyard(dict(os.environ), "--help")
    assert result.returncode == 0
    for command in ("up", "down", "status", "logs", "switch"):
        assert f"  {command} " in result.stdout


def test_status_shows_every_service_healthy(stack: Stack, cli_env: dict[str, str]) -> None:
    result = faultyard(cli_env, "status")
    assert result.returncode == 0, result.stdout + result.stderr
    services, proxies, _scrape_targets = result.stdout.split("\n\n")
    rows = services.splitlines()[1:]
    assert [row.split()[0] for row in rows] == stack.names()
    assert all(row.split()[1] == "healthy" for row in rows)
    assert [row.split()[0] for row in proxies.splitlines()[1:]] == ["postgres", "redis", "shop"]


def test_a_second_up_sees_the_running_stack(cli_env: dict[str, str]) -> None:
    result = faultyard(cli_env, "up")
    assert result.returncode == 0, result.stderr
    assert "stack already running" in result.stdout
    assert "starting" not in result.stderr
    console = cli_env["FAULTYARD_CONSOLE_PORT"]
    assert (
        f"console: http://127.0.0.1:{console} (dashboards live, runs and drills in a browser)"
        in result.stdout
    )


def test_logs_shows_a_service_log_and_refuses_unknown_names(cli_env: dict[str, str]) -> None:
    logs = faultyard(cli_env, "logs", "app", "-n", "200", "--grep", '"logger":"target_app.access"')
    assert logs.returncode == 0
    line = json.loads(logs.stdout.splitlines()[-1])
    assert {"time", "level", "request_id", "route", "status"} <= line.keys()
    unknown = faultyard(cli_env, "logs", "nginx")
    assert unknown.returncode == 2
    assert "worker-1" in unknown.stderr


def test_switch_on_off_and_unknown(cli_env: dict[str, str]) -> None:
    on = faultyard(cli_env, "switch", "leak_session_on_error", "on")
    assert on.returncode == 0, on.stderr
    assert "ON (bug)" in on.stdout
    listed = faultyard(cli_env, "switch", "list")
    assert any(
        r.startswith("leak_session_on_error") and "ON (bug)" in r
        for r in listed.stdout.splitlines()
    )
    off = faultyard(cli_env, "switch", "leak_session_on_error", "off")
    assert off.returncode == 0 and "off" in off.stdout
    unknown = faultyard(cli_env, "switch", "no_such_bug", "on")
    assert unknown.returncode == 2
    assert "unknown switch 'no_such_bug'" in unknown.stderr
    assert faultyard(cli_env, "switch", "lock_in_cart_order", "maybe").returncode == 2


def test_commands_without_a_stack_say_how_to_start_one(other_env: dict[str, str]) -> None:
    for command in (["switch", "list"], ["toxic", "list"], ["reset"]):
        result = faultyard(other_env, *command)
        assert result.returncode == 2, command
        assert "faultyard up" in result.stderr, command


def test_a_taken_port_is_named_with_its_setting(other_env: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = faultyard({**other_env, "FAULTYARD_REDIS_PORT": str(port)}, "up")
    assert result.returncode == 2
    assert f"port {port} for redis is already in use" in result.stderr
    assert "FAULTYARD_REDIS_PORT" in result.stderr
    assert not list(Path(other_env["FAULTYARD_STATE_DIR"]).glob("run/*.pid"))


def test_a_bad_setting_is_a_usage_error(other_env: dict[str, str]) -> None:
    result = faultyard({**other_env, "FAULTYARD_PG_PORT": "not-a-port"}, "status")
    assert result.returncode == 2
    assert "FAULTYARD_PG_PORT" in result.stderr


def test_a_stale_pid_file_is_recovered(other_env: dict[str, str]) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    pid_file = Path(other_env["FAULTYARD_STATE_DIR"]) / "run" / "redis.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(
        json.dumps({"pid": dead.pid, "start_ticks": 1, "started_at": 0, "argv": ["redis-server"]})
    )
    result = faultyard(other_env, "status")
    assert result.returncode == 1
    assert (
        next(r for r in result.stdout.splitlines() if r.startswith("redis")).split()[1] == "stopped"
    )
    assert not pid_file.exists()


def test_up_then_down_in_a_fresh_state_folder(stack: Stack, other_env: dict[str, str]) -> None:
    up = faultyard(other_env, "up")
    assert up.returncode == 0, up.stderr
    assert "stack ready in" in up.stdout
    state = Path(other_env["FAULTYARD_STATE_DIR"])
    records = [process.read_pid_file(p) for p in sorted(state.glob("run/*.pid"))]
    declared = Stack(load_stack_settings(state_dir=state, rq_workers=1)).services
    assert sorted(p.stem for p in state.glob("run/*.pid")) == sorted(
        s.name for s in declared if s.argv
    )
    assert all(r is not None and process.is_alive(r) for r in records)

    down = faultyard(other_env, "down")
    assert down.returncode == 0, down.stderr
    assert not any(process.is_alive(r) for r in records if r)
    # Nothing they started is left behind either (gunicorn workers, RQ's scheduler, ...).
    assert not any(process.group_members(r) for r in records if r)
    assert not list(state.glob("run/*.pid"))
    # The session's own stack was not touched.
    assert all(s.healthy for s in stack.status())
    assert faultyard(other_env, "down").stdout.strip() == "nothing was running"


def test_toxic_add_list_remove_and_reset(stack: Stack, cli_env: dict[str, str]) -> None:
    added = faultyard(
        cli_env,
        "toxic",
        "add",
        "postgres",
        "latency",
        "--latency",
        "300",
        "--jitter",
        "50",
        "--duration",
        "30s",
    )
    assert added.returncode == 0, added.stderr
    listed = faultyard(cli_env, "toxic", "list")
    row = next(r for r in listed.stdout.splitlines() if r.startswith("postgres"))
    assert "latency_downstream (latency downstream latency=300 jitter=50)" in row
    assert faultyard(cli_env, "toxic", "remove", "latency_downstream").returncode == 0
    assert "latency_downstream" not in faultyard(cli_env, "toxic", "list").stdout

    wrong = faultyard(cli_env, "toxic", "add", "redis", "bandwidth", "--latency", "5")
    assert wrong.returncode == 2 and "bandwidth takes --rate" in wrong.stderr
    unknown = faultyard(cli_env, "toxic", "add", "nope", "latency", "--latency", "5")
    assert unknown.returncode == 2 and "proxy not found" in unknown.stderr

    # Harmless to the session's stack (a timeout here would cut its workers' Redis links).
    assert faultyard(cli_env, "toxic", "add", "redis", "latency", "--latency", "1").returncode == 0
    assert faultyard(cli_env, "proxy", "down", "shop").returncode == 0
    assert faultyard(cli_env, "switch", "lock_in_cart_order", "on").returncode == 0
    reset = faultyard(cli_env, "reset")
    assert reset.returncode == 0, reset.stderr
    status = faultyard(cli_env, "status")
    assert status.returncode == 0
    proxies = status.stdout.split("\n\n")[1]
    assert "DISABLED" not in proxies and "latency" not in proxies
    assert "ON (bug)" not in faultyard(cli_env, "switch", "list").stdout


def test_proxy_serves_a_toxiproxy_config_file(tmp_path: Path, upstream_port: int) -> None:
    port, listen = free_port(), free_port()
    config = tmp_path / "proxies.json"
    config.write_text(
        json.dumps(
            [
                {
                    "name": "cfg",
                    "listen": f"127.0.0.1:{listen}",
                    "upstream": f"127.0.0.1:{upstream_port}",
                }
            ]
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaos", "proxy", "--port", str(port), "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = ToxiproxyClient(f"http://127.0.0.1:{port}")
        proxies = eventually(lambda: _proxies_or_none(client), "the proxy server")
        assert proxies["cfg"].listen == f"127.0.0.1:{listen}"  # type: ignore[index]
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def _proxies_or_none(client: ToxiproxyClient) -> object:
    try:
        return client.proxies()
    except ToxiproxyError:
        return None


@pytest.fixture
def upstream_port(stack: Stack) -> int:
    return stack.settings.redis_port
