"""Start, identify and stop the stack's processes by PID, never anyone else's.

A pid file records the PID with the process's start time (from /proc), so a
PID reused by an unrelated process after a crash is recognised as stale.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

POLL_INTERVAL_S = 0.05
KILL_WAIT_S = 5.0


@dataclass(frozen=True)
class ProcessRecord:
    """What a pid file says about a process the stack started."""

    pid: int
    start_ticks: int
    started_at: float
    argv: list[str]


def start_ticks(pid: int) -> int | None:
    """Return when a process started (clock ticks since boot), None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def run_state(pid: int) -> str | None:
    """Return a process's state letter from /proc (R, S, T for stopped, Z...), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()[0]


def is_alive(record: ProcessRecord) -> bool:
    """Return whether the recorded process still runs (and is the same process)."""
    return start_ticks(record.pid) == record.start_ticks


def read_pid_file(path: Path) -> ProcessRecord | None:
    """Return the record in a pid file, None if there is none or it is unreadable."""
    try:
        data = json.loads(path.read_text())
        return ProcessRecord(
            pid=int(data["pid"]),
            start_ticks=int(data["start_ticks"]),
            started_at=float(data["started_at"]),
            argv=list(data["argv"]),
        )
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def spawn(
    argv: list[str],
    *,
    pid_file: Path,
    log_file: Path,
    env: dict[str, str],
    run_as: str | None = None,
) -> ProcessRecord:
    """Start a process in its own session, logging to `log_file`, and write its pid file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
            **({"user": run_as, "group": run_as, "extra_groups": []} if run_as else {}),
        )
    ticks = start_ticks(proc.pid)
    record = ProcessRecord(pid=proc.pid, start_ticks=ticks or 0, started_at=time.time(), argv=argv)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(record.__dict__))
    os.replace(tmp, pid_file)  # readers never see half a pid file
    return record


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def send(record: ProcessRecord, sig: int) -> None:
    """Send a signal to the recorded process if it is still the same process."""
    if is_alive(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, sig)


def await_exit(record: ProcessRecord, *, timeout_s: float) -> bool:
    """Wait for the process to end, then kill what is left of its group; True if it was killed."""
    killed = False
    if not _wait_gone(record, timeout_s):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGKILL)
        _wait_gone(record, KILL_WAIT_S)
        killed = True
    sweep_group(record)
    return killed


def group_members(record: ProcessRecord) -> list[int]:
    """Return live processes in the recorded process's group that started after it did."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # fields: state, ppid, pgrp, ..., starttime at index 19
        if (
            fields[0] not in ("Z", "X")
            and int(fields[2]) == record.pid
            and int(fields[19]) >= record.start_ticks
        ):
            members.append(int(entry.name))
    return members


def sweep_group(record: ProcessRecord) -> None:
    """Kill children a stopped (or crashed) service left behind in its own session."""
    for pid in group_members(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def stop(record: ProcessRecord, *, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> bool:
    """Signal the process and wait for it; True if it had to be killed."""
    if not is_alive(record):
        return False
    send(record, sig)
    return await_exit(record, timeout_s=timeout_s)


def _wait_gone(record: ProcessRecord, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        _reap(record.pid)
        if not is_alive(record):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL_S)
