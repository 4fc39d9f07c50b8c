"""Inject: the scenario's faults (with --fixed, the fix's steps in their place), listed first in
STATE/scenario-active.json so that a killed runner leaves a trail for the next preflight."""

from __future__ import annotations

import os
import time

from chaos.scenarios import events
from chaos.scenarios.cleanup import ActiveRun, write_active
from chaos.scenarios.journal import FaultRecord
from chaos.scenarios.phases.context import RunContext


def run(ctx: RunContext) -> None:
    """Apply every step, recording each before it is applied (a half-applied one is undone too)."""
    with ctx.phase("inject", interruptible=True) as record:
        steps = ctx.scenario.faults_for(fixed=ctx.options.fixed)
        write_active(
            ctx.stack.settings,
            ActiveRun(
                scenario=ctx.scenario.name,
                pid=os.getpid(),
                started_at=time.time(),
                steps=[s.model_dump(mode="json") for s in steps],
                rollbacks=[s.model_dump(mode="json") for s in ctx.scenario.rollbacks],
            ),
        )
        for step in steps:
            fault = FaultRecord(step.kind, step.describe(), step.model_dump(mode="json"))
            ctx.journal.faults.append(fault)
            ctx.applied.append((fault, step))
            done = ctx.injector.apply(step)
            fault.applied_at = time.time()
            ctx.note(record, f"applied: {done}")
            events.fault_injected.fire(description=fault.description)
        ctx.injected_at = time.time()
