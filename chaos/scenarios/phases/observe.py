"""Observe: the probes polled under load. Default mode: until every symptom has held (or the
window ends). Fixed mode: the whole window; no symptom of the bug may appear, the SLO must hold."""

from __future__ import annotations

import time

from chaos.scenarios import verdict
from chaos.scenarios.phases.context import RunContext


def run(ctx: RunContext) -> None:
    """Watch the probes through the window and record what deviated from the expectation."""
    with ctx.phase("observe", interruptible=True) as record:
        assert ctx.injected_at is not None
        window = float(ctx.journal.options["duration_s"])
        symptoms = ctx.role("symptom")
        while time.time() < ctx.injected_at + window:
            ctx.tick()
            if not ctx.options.fixed and all(s.first_held("observe") for s in symptoms):
                break
        record.output["window_s"] = window
        record.output["observed_s"] = round(time.time() - ctx.injected_at, 1)
        record.output["time_to_symptom_s"] = {
            log.name: verdict.time_to_symptom(log, ctx.injected_at) for log in symptoms
        }
        if ctx.options.fixed:
            deviations, notes = verdict.fixed_deviations(
                symptoms, ctx.role("slo"), injected_at=ctx.injected_at
            )
            for note in notes:
                ctx.note(record, note)
        else:
            deviations = verdict.missing_symptoms(symptoms, window)
        ctx.journal.deviations += deviations
        if deviations:
            record.status = "failed"
            record.error = "; ".join(deviations)
