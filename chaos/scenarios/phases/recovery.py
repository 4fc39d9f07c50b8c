"""Recovery: after rollback, the steady state must return within a bound (a signal cuts it short);
then the run's business invariants are read: with --fixed, every one must be zero."""

from __future__ import annotations

import time

from chaos.scenarios import verdict
from chaos.scenarios.journal import PhaseRecord
from chaos.scenarios.phases.context import RunContext


def run(ctx: RunContext) -> None:
    """Wait for every SLO to hold and every symptom to go; record a deviation after the bound."""
    with ctx.phase("recovery", interruptible=True) as record:
        bound = ctx.options.recovery_max_s
        ctx.await_steady(
            record,
            min_s=0.0,
            max_s=bound,
            failure=f"the steady state did not return within {bound:g}s",
        )
        read_invariants(ctx, record)


def read_invariants(ctx: RunContext, record: PhaseRecord) -> None:
    """Record the business invariants; in fixed mode, each broken one is a deviation.

    Fixed mode waits for the orders placed lately to be paid or to fail (up to the
    payment SLO); bug mode does not wait: its counts are reported, not judged.
    """
    if ctx.invariants is None:
        return
    started = time.monotonic()
    counts = ctx.invariants.read(wait_for_payments=ctx.options.fixed)
    ctx.journal.invariants = counts
    record.output["invariants_read_s"] = round(time.monotonic() - started, 1)
    shown = ", ".join(f"{c.name} {'?' if c.count is None else c.count}" for c in counts)
    ctx.note(record, f"invariants: {shown}")
    if not ctx.options.fixed:
        return
    deviations = verdict.broken_invariants(counts)
    ctx.journal.deviations += deviations
    if deviations:
        record.status = "failed"
        record.error = "; ".join([*filter(None, [record.error]), *deviations])
