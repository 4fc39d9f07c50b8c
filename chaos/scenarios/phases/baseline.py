"""Baseline: shoppers start (Locust) and the steady state must hold before anything is injected."""

from __future__ import annotations

from chaos.scenarios import events
from chaos.scenarios.journal import ProbeLog, Reading
from chaos.scenarios.load import Load
from chaos.scenarios.monitor import ProbeMonitor
from chaos.scenarios.phases.context import LOAD_MARGIN_S, RunContext, RunError


def run(ctx: RunContext) -> None:
    """Start the load and the probes; raise RunError unless the steady state holds."""
    with ctx.phase("baseline", interruptible=True) as record:
        settings, options = ctx.stack.settings, ctx.options
        ctx.load = Load(
            profile=ctx.scenario.load,
            host=settings.shop_url,
            out_dir=ctx.out_dir,
            users=ctx.journal.options["users"],
            run_time_s=options.baseline_max_s
            + ctx.journal.options["duration_s"]
            + options.recovery_max_s
            + LOAD_MARGIN_S,
            seed=options.seed,
            env={"FAULTYARD_SEED_PRODUCTS": str(settings.seed_products)},
        )
        events.load_starting.fire(users=ctx.load.users)
        ctx.load.start()
        journeys = ", ".join(ctx.scenario.load.journeys)
        ctx.note(record, f"Locust: {ctx.load.users} users ({journeys})")
        ctx.monitor = ProbeMonitor(
            settings,
            ctx.journal,
            list(ctx.logs.values()),
            poll_s=options.poll_s,
            on_reading=lambda log, reading, previous: on_reading(ctx, log, reading, previous),
        )
        ctx.monitor.start()
        if not ctx.await_steady(
            record,
            min_s=options.baseline_min_s,
            max_s=options.baseline_max_s,
            failure="the steady state did not hold before injection",
        ):
            # Nothing was injected yet: not a finding about the scenario but about the
            # stack or the machine (exit 2), such as a machine too busy for this load.
            message = ctx.journal.deviations.pop()
            raise RunError(f"{message}; nothing was injected (a busy machine? try fewer --users)")
        if ctx.invariants is not None:  # the exporter's gauges as the steady state leaves them
            ctx.invariants.mark_before()


def on_reading(ctx: RunContext, log: ProbeLog, reading: Reading, previous: Reading | None) -> None:
    """Tell the view when a symptom first appears, and when an SLO breaks or holds again."""
    if reading.phase not in ("observe", "recovery") or ctx.injected_at is None:
        return
    offset = reading.at - ctx.injected_at
    if log.role == "symptom" and reading.phase == "observe":
        if reading.holds and log.first_held("observe") is reading:
            ctx.view.probe_turned(log, offset, reading.value)
    elif (
        log.role == "slo"
        and previous is not None
        and previous.holds != reading.holds
        and reading.error is None
    ):
        ctx.view.slo_changed(log, offset, reading)
