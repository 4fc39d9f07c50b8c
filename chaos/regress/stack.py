"""The stack a test run's chaos items share: up once, and down only if this run started it.

The stack is the one the environment's settings describe (FAULTYARD_STATE_DIR,
FAULTYARD_*_PORT, FAULTYARD_TARGET), as for every `faultyard` command. The
first item to run brings it up; if every service was already running it is
left running at the end, otherwise (this run started it) it is stopped when the
test run ends. A stack that cannot start fails every item with the same reason,
as a broken session fixture does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chaos.stack.manager import Stack


class StackUnavailable(Exception):
    """The stack could not be brought up: every chaos item fails with this reason."""


class SessionStack:
    """Brings the stack up on first use; remembers whether this run started it."""

    def __init__(self) -> None:
        self._stack: Stack | None = None
        self._error: str | None = None
        self.started_by_run = False
        self.started: list[str] = []

    def get(self) -> Stack:
        """Return the running stack, bringing it up the first time."""
        if self._error is not None:
            raise StackUnavailable(self._error)
        if self._stack is None:
            from chaos.cli.common import current_stack
            from chaos.errors import FaultyardError

            stack = current_stack()
            try:
                running_before = _any_running(stack)
                states = stack.up()
            except FaultyardError as exc:
                self._error = f"the stack could not start: {exc}"
                raise StackUnavailable(self._error) from None
            self.started = [s.name for s in states if s.started]
            self.started_by_run = bool(self.started) and not running_before
            self._stack = stack
        return self._stack

    def describe(self) -> str:
        """Return how the run found the stack, in a few words."""
        if self._error is not None:
            return self._error
        if self._stack is None:
            return "not used"
        where = self._stack.settings.state_path
        if self.started_by_run:
            return f"started by this run (state {where}), stopped at its end"
        if self.started:
            return f"running (state {where}); this run started {', '.join(self.started)}"
        return f"already running (state {where}), left running"

    def release(self) -> list[str]:
        """Stop the stack if this run started it; return what was stopped."""
        if self._stack is None or not self.started_by_run:
            return []
        self._stack.progress = lambda _message: None  # after the items: nothing to capture it
        return self._stack.down()


def _any_running(stack: Stack) -> bool:
    """Return whether any service of the stack runs (a stack faultyard does not start: True)."""
    from chaos.compose.stack import ComposeStack

    if isinstance(stack, ComposeStack):  # Docker starts and stops it, never this run
        return True
    return any(svc.argv and stack.running(svc.name) for svc in stack.services)


def refuse_during_drill() -> None:
    """Raise UsageError while a drill runs on the environment's stack (nothing may be shown)."""
    import pytest

    from chaos.drill.state import in_progress
    from chaos.settings import load_stack_settings

    if in_progress(load_stack_settings()) is not None:
        raise pytest.UsageError(
            "no scenario runs while a drill runs: on call nobody can list the bugs that are "
            "switched on. `faultyard drill give-up` ends the drill and reveals it all"
        )
