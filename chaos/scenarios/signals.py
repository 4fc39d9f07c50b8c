"""Ctrl-C and SIGTERM during a run: the first one interrupts a phase, the rest wait for rollback.

The runner installs its own handlers for both signals whatever it inherited: a
shell starts background jobs with SIGINT ignored, and a run must still stop on
it. The first signal raises `Interrupted` only inside an interruptible phase
(preflight to observe, and recovery); anywhere else (rollback, stopping the load,
the report) it is recorded and the run goes on to its end. Either way the run
exits with 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A signal stopped the phase that was running."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class RunSignals:
    """The run's SIGINT and SIGTERM handlers, and the first signal received."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.interruptible = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Handle SIGINT and SIGTERM from now on (in the main thread only, as Python allows)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in HANDLED:
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        """Give the signals back the handlers they had before `install`."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        first = self.received is None
        if first:
            self.received = signum
        if first and self.interruptible:
            raise Interrupted(signum)

    def note_keyboard_interrupt(self) -> None:
        """Record a KeyboardInterrupt (Python's own SIGINT handler, where ours is not installed)."""
        if self.received is None:
            self.received = signal.SIGINT

    @contextmanager
    def interruptible_phase(self) -> Iterator[None]:
        """Let the first signal interrupt what runs inside; one received before raises now."""
        self.interruptible = True
        try:
            if self.received is not None:
                raise Interrupted(self.received)
            yield
        finally:
            self.interruptible = False

    @property
    def name(self) -> str | None:
        """Return the received signal's name (SIGINT, SIGTERM), None if none came."""
        return None if self.received is None else signal.Signals(self.received).name

    @property
    def exit_code(self) -> int | None:
        """Return 128 + the received signal's number (130, 143), None if none came."""
        return None if self.received is None else 128 + self.received
