"""Run `faultyard ARGS...` and send this process SIGNAL at one moment of the run.

    python -m tests.scenarios.signal_at MOMENT SIGNAL STAMP_FILE -- scenario NAME ...

MOMENT is a phase (preflight ... report) or `load_starting` / `load_stopping`;
the signal is sent when that event fires, and the time it was sent is written
to STAMP_FILE. The dispositions this process inherited are left as they are:
the test sets them.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from chaos.cli import main
from chaos.scenarios import events


def arm(moment: str, signum: int, stamp: Path) -> None:
    """Send `signum` to this process once, when `moment` comes."""

    def fire(**event: object) -> None:
        if moment in ("load_starting", "load_stopping") or event.get("name") == moment:
            hook.remove_listener(fire)
            stamp.write_text(f"{time.time()}\n")
            os.kill(os.getpid(), signum)

    hook = getattr(events, moment) if moment.startswith("load_") else events.phase_started
    hook.add_listener(fire)


if __name__ == "__main__":
    moment, name, stamp_file, separator, *args = sys.argv[1:]
    assert separator == "--", "usage: signal_at MOMENT SIGNAL STAMP_FILE -- ARGS..."
    arm(moment, getattr(signal, name), Path(stamp_file))
    sys.argv = ["faultyard", *args]
    main()
