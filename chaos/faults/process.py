"""process: a signal to one of the stack's services (kill, pause or term), recorded until undone.

Targets are named as in chaos.faults.process_targets (`redis`, `app:worker`,
`worker-2`, ...). kill sends SIGKILL to the whole tree (a PostgreSQL backend left
running would keep the new server out), pause SIGSTOP to the whole tree, term
SIGTERM to the main process only, as a deploy does. Each fault is written to
STATE/process-faults.json (chaos.faults.process_log) for the exporter, status
and reset. A paused service is continued (SIGCONT); a killed or terminated one is
started again by the stack manager (gunicorn replaces a worker by itself).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from chaos.faults import process_log
from chaos.faults.base import FaultKind, register
from chaos.faults.process_targets import TARGET_PATTERN, Target, resolve
from chaos.scenarios import processes

if TYPE_CHECKING:
    from chaos.faults.context import FaultContext

Action = Literal["kill", "pause", "term"]


@register
class ProcessFault(FaultKind):
    """A signal to one of the stack's services: kill (SIGKILL), pause (SIGSTOP), term (SIGTERM)."""

    kind: Literal["process"] = "process"
    service: str = Field(pattern=TARGET_PATTERN)
    action: Action

    def describe(self) -> str:
        """Return one line saying what this fault does."""
        return f"process {self.action} {self.service}"

    def apply(self, ctx: FaultContext) -> str:
        """Signal the target and record the fault; see the module's docstring."""
        return signal_target(ctx, resolve(ctx.stack, self.service), self.action)

    def revert(self, ctx: FaultContext) -> str:
        """Continue a paused service; start a killed or terminated one again."""
        if self.action == "pause":
            said = resume(ctx, self.service)
        else:
            ctx.stack.up()  # starts what is not running, leaves what runs alone
            said = f"{self.service} running again"
        process_log.forget(ctx.stack.settings.state_path, service=_service(self.service))
        return said

    @classmethod
    def sweep(cls, ctx: FaultContext) -> list[str]:
        """Undo every process fault on: continue what is stopped, start what was killed."""
        state = ctx.stack.settings.state_path
        found = []
        down = [e for e in process_log.faults_on(state) if e.action != "pause" and not e.member]
        if down:
            ctx.stack.up()
            found += [f"{e.describe()}: {e.service} started again" for e in down]
        for name in ctx.stack.names():
            record = ctx.stack.running(name)
            if record is not None and processes.stopped(record.pid):
                with contextlib.suppress(ProcessLookupError):
                    found.append(resume(ctx, name))
        process_log.forget(state)
        return found


def _service(target: str) -> str:
    return target.split(":", 1)[0]


def signal_target(
    ctx: FaultContext, target: Target, action: Action, *, until: float | None = None
) -> str:
    """Send the action's signal to a resolved target, record it, and say what was done."""
    record, what = target.record, target.name
    if target.member:
        what = f"{target.name} (gunicorn worker {record.pid})"
    if action == "pause":
        count = processes.pause(record)
        said = f"paused {what}: {count} processes stopped (SIGSTOP)"
    elif action == "kill":
        count = processes.signal_tree(record, signal.SIGKILL)
        said = f"killed {what}: SIGKILL to {count} processes"
    else:
        os.kill(record.pid, signal.SIGTERM)  # the service's own shutdown, as a deploy's
        said = f"sent SIGTERM to {what} (pid {record.pid})"
    entry = process_log.ProcessFaultEntry(
        target=target.name,
        service=target.service,
        action=action,
        pid=record.pid,
        start_ticks=record.start_ticks,
        at=time.time(),
        until=until,
        member=target.member,
    )
    process_log.record(ctx.stack.settings.state_path, entry)
    return said


def resume(ctx: FaultContext, service: str) -> str:
    """Continue a service's whole process tree (SIGCONT): `app:worker` continues all of app."""
    name = _service(service)
    record = ctx.stack.running(name)
    if record is None:
        return f"{name} does not run: nothing to continue"
    was_stopped = bool(processes.stopped(record.pid))
    count = processes.resume(record)
    process_log.forget(ctx.stack.settings.state_path, service=name)
    if not was_stopped:
        return f"{name} was not paused: nothing to continue"
    return f"continued {name}: SIGCONT to {count} processes"
