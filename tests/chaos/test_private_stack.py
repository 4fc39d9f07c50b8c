"""A benchmark's or soak's private stack is stopped and removed on SIGTERM as on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

HOLD_A_PRIVATE_STACK = """
import time
from chaos.bench.private_stack import private_stack
from chaos.stack.manager import Stack
with private_stack("redis") as settings:
    print(settings.state_path, Stack(settings).running("redis").pid, flush=True)
    time.sleep(120)
"""


def terminal_dispositions() -> None:
    """The child's dispositions, set explicitly (a CI job may start this one's ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def running(pid: int) -> bool:
    """Return whether the process runs (a zombie waiting for its parent does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_private_stack_and_removes_its_folder(signum: int) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_PRIVATE_STACK],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=terminal_dispositions,
    )
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        while line.startswith("starting"):
            line = holder.stdout.readline()
        state, pid = line.split()
        assert running(int(pid)) and Path(state).is_dir()
        holder.send_signal(signum)
        holder.wait(timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert not running(int(pid)), "redis of the private stack still runs"
    assert not Path(state).exists()
