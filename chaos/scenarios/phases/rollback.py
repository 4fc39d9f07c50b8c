"""Rollback: always (success, failure, a signal, an exception), exactly what was injected is
removed, newest first, then the scenario's own rollbacks run (e.g. reload the shop).
Signals wait until it is done: a half-done rollback would leave faults behind."""

from __future__ import annotations

import time

from chaos.errors import FaultyardError
from chaos.scenarios import events
from chaos.scenarios.cleanup import clear_active
from chaos.scenarios.phases.context import RunContext, RunError


def run(ctx: RunContext) -> None:
    """Revert every applied step, then run the rollbacks; RunError names what could not be undone."""
    if not ctx.applied and ctx.journal.phase("inject") is None:
        return
    with ctx.phase("rollback", interruptible=False) as record:
        failed = []
        for fault, step in reversed(ctx.applied):
            try:
                ctx.note(record, f"reverted: {ctx.injector.revert(step)}")
                fault.reverted_at = time.time()
                events.fault_reverted.fire(description=fault.description)
            except FaultyardError as exc:
                fault.error = str(exc)
                failed.append(f"{step.describe()}: {exc}")
        for step in ctx.scenario.rollbacks:
            try:
                ctx.note(record, f"rollback: {ctx.injector.apply(step)}")
            except FaultyardError as exc:
                failed.append(f"{step.describe()}: {exc}")
        if failed:
            raise RunError(f"rollback could not undo: {'; '.join(failed)}; run `faultyard reset`")
        clear_active(ctx.stack.settings)
