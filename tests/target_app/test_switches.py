"""The switch registry, its file-backed board, and the admin API that flips it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flask import Flask

from target_app.config import ShopSettings
from target_app.switches import REGISTRY, SwitchBoard, UnknownSwitchError
from tests.conftest import AppFactory, free_port

AUTH = {"Authorization": "Bearer test-token"}


def test_every_switch_is_off_by_default(tmp_path: Path) -> None:
    board = SwitchBoard(tmp_path / "switches.json")
    assert board.states() == dict.fromkeys(REGISTRY, False)


def test_a_change_reaches_another_board_on_the_same_file(tmp_path: Path) -> None:
    writer = SwitchBoard(tmp_path / "switches.json")
    reader = SwitchBoard(tmp_path / "switches.json", refresh_s=0)
    assert reader.is_on("lock_in_cart_order") is False
    writer.set("lock_in_cart_order", True)
    assert reader.is_on("lock_in_cart_order") is True
    writer.reset()
    assert reader.states() == dict.fromkeys(REGISTRY, False)


def test_a_change_reaches_a_running_process_within_its_refresh_interval(tmp_path: Path) -> None:
    """A process that cached the states sees a change once its refresh interval has passed."""
    path = tmp_path / "switches.json"
    refresh_s = ShopSettings().switch_refresh_s
    assert refresh_s < 1.0  # the promise: every process sees a change within a second
    watcher = textwrap.dedent(
        f"""
        import sys, time
        from target_app.switches import SwitchBoard
        board = SwitchBoard({str(path)!r}, refresh_s={refresh_s})
        print(board.is_on("leak_session_on_error"), flush=True)
        sys.stdin.readline()  # the test has switched the bug on
        time.sleep({refresh_s})
        print(board.is_on("leak_session_on_error"), flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", watcher], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout and proc.stdin
    assert proc.stdout.readline().strip() == "False"
    SwitchBoard(path).set("leak_session_on_error", True)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "True"
    assert proc.wait(timeout=10) == 0


def test_unknown_switch_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownSwitchError, match="lock_in_cart_order"):
        SwitchBoard(tmp_path / "s.json").set("no_such_bug", True)


def test_a_corrupt_file_reads_as_all_off(tmp_path: Path) -> None:
    (tmp_path / "switches.json").write_text("{half")
    assert not any(SwitchBoard(tmp_path / "switches.json").states().values())


def test_admin_lists_and_flips_switches(app: Flask) -> None:
    client = app.test_client()
    listing = client.get("/admin/switches", headers=AUTH).get_json()
    assert {s["name"] for s in listing["switches"]} == set(REGISTRY)
    assert all(s["bug"] and s["fix"] for s in listing["switches"])
    flipped = client.put("/admin/switches/lock_in_cart_order", json={"on": True}, headers=AUTH)
    assert flipped.status_code == 200
    assert app.extensions["switches"].is_on("lock_in_cart_order") is True
    assert client.post("/admin/switches/reset", headers=AUTH).status_code == 200
    assert app.extensions["switches"].is_on("lock_in_cart_order") is False


def test_admin_lists_a_change_another_worker_just_made(make_app: AppFactory) -> None:
    """Any worker may answer the admin API: its listing must not lag the file.

    The runner's sweep reads the switches right after setting them, maybe from another worker.
    """
    app = make_app(switch_refresh_s=60.0)  # this worker's cache would lag for a minute
    client = app.test_client()
    assert not any(
        s["on"] for s in client.get("/admin/switches", headers=AUTH).get_json()["switches"]
    )
    SwitchBoard(app.extensions["settings"].switches_file).set("lock_in_cart_order", True)
    listing = client.get("/admin/switches", headers=AUTH).get_json()["switches"]
    assert [s["name"] for s in listing if s["on"]] == ["lock_in_cart_order"]


@pytest.mark.parametrize(
    ("headers", "remote_addr", "status"),
    [
        pytest.param({}, "127.0.0.1", 401, id="no token"),
        pytest.param({"Authorization": "Bearer wrong"}, "127.0.0.1", 401, id="wrong token"),
        pytest.param(AUTH, "192.0.2.10", 403, id="not loopback"),
        # X-Forwarded-For counts for the rate limits only: no header makes a caller local.
        pytest.param(
            {**AUTH, "X-Forwarded-For": "127.0.0.1"}, "192.0.2.10", 403, id="forged forwarded"
        ),
        pytest.param(AUTH, "::1", 200, id="IPv6 loopback"),
    ],
)
def test_admin_requires_loopback_and_token(
    app: Flask, headers: dict[str, str], remote_addr: str, status: int
) -> None:
    response = app.test_client().get(
        "/admin/switches", headers=headers, environ_base={"REMOTE_ADDR": remote_addr}
    )
    assert response.status_code == status
    assert response.is_json


def test_admin_rejects_unknown_switch_and_bad_body(app: Flask) -> None:
    client = app.test_client()
    assert client.put("/admin/switches/nope", json={"on": True}, headers=AUTH).status_code == 404
    assert (
        client.put(
            "/admin/switches/lock_in_cart_order", json={"on": "yes"}, headers=AUTH
        ).status_code
        == 422
    )


def test_switches_work_while_postgres_and_redis_are_down(make_app: AppFactory) -> None:
    dead = free_port()
    app = make_app(
        database_url=f"postgresql+psycopg://faultyard@127.0.0.1:{dead}/shop",
        redis_url=f"redis://127.0.0.1:{dead}/0",
    )
    client = app.test_client()
    assert client.get("/readyz").status_code == 503
    response = client.put("/admin/switches/leak_session_on_error", json={"on": True}, headers=AUTH)
    assert response.status_code == 200
    on = {
        s["name"]: s["on"]
        for s in client.get("/admin/switches", headers=AUTH).get_json()["switches"]
    }
    assert on["leak_session_on_error"] is True
