"""process: a signal to one of the stack's services (kill, pause or term), its whole tree.

A paused service is continued (SIGCONT); a killed or terminated one is started
again by the stack manager.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from chaos.faults.base import FaultKind, register
from chaos.scenarios import processes
from chaos.scenarios.processes import ProcessFaultError

if TYPE_CHECKING:
    from chaos.faults.context import FaultContext
    from chaos.stack.process import ProcessRecord


@register
class ProcessFault(FaultKind):
    """A signal to one of the stack's services: kill (SIGKILL), pause (SIGSTOP), term (SIGTERM)."""

    kind: Literal["process"] = "process"
    service: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    action: Literal["kill", "pause", "term"]

    def describe(self) -> str:
        """Return one line saying what this fault does."""
        return f"process {self.action} {self.service}"

    def apply(self, ctx: FaultContext) -> str:
        """Signal the service: its whole process tree, or for term its main process only."""
        record = _record(ctx, self.service)
        if self.action == "pause":
            count = processes.pause(record)
            return f"paused {self.service}: {count} processes stopped (SIGSTOP)"
        if self.action == "kill":
            # The whole tree: a PostgreSQL backend left running would keep the new server out.
            count = processes.signal_tree(record, signal.SIGKILL)
            return f"killed {self.service}: SIGKILL to {count} processes"
        os.kill(record.pid, signal.SIGTERM)  # the service's own shutdown, as a deploy would
        return f"sent SIGTERM to {self.service} (pid {record.pid})"

    def revert(self, ctx: FaultContext) -> str:
        """Continue a paused service; start a killed or terminated one again."""
        if self.action == "pause":
            return resume(ctx, self.service)
        # The stack manager starts what is not running (and leaves what runs alone).
        ctx.stack.up()
        return f"{self.service} running again"

    @classmethod
    def sweep(cls, ctx: FaultContext) -> list[str]:
        """Continue every service with a stopped process in its tree."""
        found = []
        for name in ctx.stack.names():
            record = ctx.stack.running(name)
            if record is not None and processes.stopped(record.pid):
                with contextlib.suppress(ProcessLookupError):
                    found.append(resume(ctx, name))
        return found


def _record(ctx: FaultContext, service: str) -> ProcessRecord:
    record = ctx.stack.running(service)
    if record is None:
        raise ProcessFaultError(f"service {service} does not run; cannot signal it")
    return record


def resume(ctx: FaultContext, service: str) -> str:
    """Continue a service's whole process tree (SIGCONT)."""
    record = ctx.stack.running(service)
    if record is None:
        return f"{service} does not run: nothing to continue"
    count = processes.resume(record)
    return f"continued {service}: SIGCONT to {count} processes"
