"""Preflight: the stack up and healthy, a crashed run's faults undone, any fault left on removed;
where the run's orders begin is noted, for the business invariants."""

from __future__ import annotations

import psycopg

from chaos.faults.injector import Injector
from chaos.monitoring.prometheus import PrometheusClient
from chaos.scenarios.cleanup import read_active, sweep, undo_active
from chaos.scenarios.invariants import RunInvariants
from chaos.scenarios.phases.context import RunContext, RunError


def run(ctx: RunContext) -> None:
    """Make sure nothing but this run's faults will be on, and that Prometheus answers."""
    with ctx.phase("preflight", interruptible=True) as record:
        other = read_active(ctx.stack.settings)
        if other is not None and other.runner_alive():
            raise RunError(
                f"another scenario run is in progress: {other.scenario} (pid {other.pid}); "
                "wait for it to finish, or stop it and run `faultyard reset`"
            )
        undone = []
        if other is not None:
            # Before up(): a killed run's damage (a leaked pool) can make a service unhealthy.
            undone = undo_active(ctx.injector)
        # Before up() too: a paused service never answers its health check.
        undone += ctx.injector.resume_stopped()
        states = ctx.stack.up()
        # Made again: a state folder created by up() just now holds the admin token.
        ctx.injector = Injector(ctx.stack)
        started = [s.name for s in states if s.started]
        record.output["started"] = started
        ctx.note(
            record,
            f"stack: started {', '.join(started)}"
            if started
            else "stack: running, every service healthy",
        )
        undone += undo_active(ctx.injector)  # what could not be undone before up()
        removed = sweep(ctx.injector)
        record.output["undone"], record.output["removed"] = undone, removed
        for line in [*undone, *removed]:
            ctx.note(record, f"left over: {line}")
        if not undone and not removed:
            ctx.note(record, "no fault left over")
        PrometheusClient(ctx.stack.settings.prometheus_url).check()
        # The run's orders are those placed from here on.
        ctx.invariants = RunInvariants(ctx.stack.settings)
        try:
            ctx.invariants.start()
        except psycopg.Error as exc:
            raise RunError(
                f"PostgreSQL did not answer the invariants' first query: {exc}"
            ) from None
