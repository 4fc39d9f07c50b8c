"""Process tracking: pid files that survive PID reuse, and stopping only what we started."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

from chaos.stack import process


def test_spawn_records_and_stop_ends_the_process(tmp_path: Path) -> None:
    record = process.spawn(
        [sys.executable, "-c", "import time; print('hello', flush=True); time.sleep(60)"],
        pid_file=tmp_path / "run" / "sleeper.pid",
        log_file=tmp_path / "logs" / "sleeper.log",
        env=dict(os.environ),
    )
    assert process.read_pid_file(tmp_path / "run" / "sleeper.pid") == record
    assert process.is_alive(record)
    assert process.stop(record, timeout_s=10) is False  # it obeyed SIGTERM
    assert not process.is_alive(record)


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    log = tmp_path / "stubborn.log"
    record = process.spawn(
        [sys.executable, "-c", code],
        pid_file=tmp_path / "s.pid",
        log_file=log,
        env=dict(os.environ),
    )
    while "ready" not in log.read_text():
        time.sleep(0.01)
    assert process.stop(record, timeout_s=0.5) is True
    assert not process.is_alive(record)


def test_a_reused_pid_is_not_mistaken_for_ours() -> None:
    me = os.getpid()
    ticks = process.start_ticks(me)
    assert ticks is not None
    ours = process.ProcessRecord(pid=me, start_ticks=ticks, started_at=0.0, argv=["x"])
    reused = dataclasses.replace(ours, start_ticks=ticks + 1)
    assert process.is_alive(ours)
    assert not process.is_alive(reused)
    assert process.stop(reused) is False  # never signals a process it did not start


def test_unreadable_pid_files_read_as_none(tmp_path: Path) -> None:
    assert process.read_pid_file(tmp_path / "missing.pid") is None
    (tmp_path / "bad.pid").write_text("12345")
    assert process.read_pid_file(tmp_path / "bad.pid") is None


def test_children_left_by_a_dead_leader_are_swept(tmp_path: Path) -> None:
    code = "import subprocess; subprocess.Popen(['sleep', '60']); print('forked', flush=True)"
    log = tmp_path / "parent.log"
    record = process.spawn(
        [sys.executable, "-c", code],
        pid_file=tmp_path / "p.pid",
        log_file=log,
        env=dict(os.environ),
    )
    while "forked" not in log.read_text() or process.is_alive(record):
        time.sleep(0.01)  # the leader exits by itself; its child does not
    assert process.group_members(record), "the orphan should still run in the group"
    process.sweep_group(record)
    deadline = time.monotonic() + 5
    while process.group_members(record) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not process.group_members(record)
