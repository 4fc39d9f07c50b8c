"""Undo a time-boxed process fault when its time is up: `faultyard pause redis --duration 30s`.

The CLI starts this module detached (its own session, so closing the terminal
does not stop it) and returns at once, as `faultyard toxic add --duration`
does. When the time is up it undoes the fault only if it is still on and still
the one it was started for (same process, same time): a fault resumed or reset
meanwhile, or a newer one, is left alone. If this process dies first, `faultyard
reset` and the next run's preflight undo the fault instead.

    python -m chaos.faults.process_timer TARGET ACTION PID START_TICKS SECONDS
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from chaos.faults import process_log

LOG_NAME = "process-timer.log"


def start(state_path: Path, entry: process_log.ProcessFaultEntry, seconds: float) -> int:
    """Start the timer for a fault just applied, detached; return its pid."""
    log_dir = state_path / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    args = [entry.target, entry.action, str(entry.pid), str(entry.start_ticks), f"{seconds:g}"]
    with open(log_dir / LOG_NAME, "a") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "chaos.faults.process_timer", *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    return child.pid


def main(argv: list[str]) -> int:
    """Sleep, then undo the fault if it is still the one this timer was started for."""
    target, action, pid, ticks, seconds = argv
    time.sleep(float(seconds))
    from chaos.faults.context import FaultContext
    from chaos.faults.process import ProcessFault
    from chaos.settings import load_stack_settings
    from chaos.stack.manager import Stack

    stack = Stack(load_stack_settings())
    still = [
        e
        for e in process_log.faults_on(stack.settings.state_path)
        if (e.target, e.action, e.pid, e.start_ticks) == (target, action, int(pid), int(ticks))
    ]
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    if not still:
        print(f"{stamp} {action} {target} (pid {pid}): undone already", flush=True)
        return 0
    fault = ProcessFault(service=target, action=action)  # type: ignore[arg-type]
    said = fault.revert(FaultContext.for_stack(stack))
    print(f"{stamp} {action} {target} (pid {pid}) after {seconds}s: {said}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
