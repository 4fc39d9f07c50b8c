"""`faultyard logs --since/--level`: every service's entries of a window, merged in time order."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import faultyard


def iso(moment: float) -> str:
    """Return a moment as the shop's JSON log lines write it (UTC, milliseconds, Z)."""
    return datetime.fromtimestamp(moment, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def pg_time(moment: float) -> str:
    """Return a moment as PostgreSQL's log_line_prefix %m writes it here (UTC)."""
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def write_logs(state: Path, now: float) -> None:
    """An app log and a PostgreSQL log: old and recent lines, quiet and loud ones."""
    logs = state / "logs"
    logs.mkdir(parents=True)
    shop = [
        (now - 3600, "ERROR", "an hour ago"),
        (now - 30, "INFO", "checkout placed"),
        (now - 20, "ERROR", "checkout failed"),
    ]
    (logs / "app.log").write_text(
        "".join(
            json.dumps({"time": iso(t), "level": lvl, "logger": "x", "message": m}) + "\n"
            for t, lvl, m in shop
        )
        + "Traceback (most recent call last):\n  ValueError: boom\n"
    )
    (logs / "postgres.log").write_text(
        f"{pg_time(now - 25)} [42] ERROR:  deadlock detected\n"
        f"{pg_time(now - 25)} [42] DETAIL:  Process 42 waits for ShareLock\n"
        f"{pg_time(now - 10)} [43] LOG:  checkpoint starting: time\n"
    )


def test_since_and_level_merge_every_services_loud_lines_of_the_window(tmp_path: Path) -> None:
    now = time.time()
    write_logs(tmp_path, now)
    env = {**os.environ, "FAULTYARD_STATE_DIR": str(tmp_path)}
    result = faultyard(env, "logs", "--since", "5m", "--level", "warning")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1:3] for line in lines if line[:2].isdigit()] == [
        ["postgres", "ERROR"],
        ["app", "ERROR"],
    ]
    text = result.stdout
    assert "Process 42 waits for ShareLock" in text  # the DETAIL stays with its error
    assert "ValueError: boom" in text  # so does the traceback
    assert "an hour ago" not in text and "checkpoint" not in text and "placed" not in text


def test_follow_takes_no_window_and_an_unknown_level_is_refused(tmp_path: Path) -> None:
    write_logs(tmp_path, time.time())
    env = {**os.environ, "FAULTYARD_STATE_DIR": str(tmp_path)}
    follow = faultyard(env, "logs", "app", "--follow", "--since", "1m")
    assert follow.returncode == 2 and "--follow" in follow.stderr
    level = faultyard(env, "logs", "--level", "loud")
    assert level.returncode == 2 and "warning" in level.stderr.lower()
