"""Recovery: after rollback, the steady state must return within a bound (a signal cuts it short)."""

from __future__ import annotations

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
