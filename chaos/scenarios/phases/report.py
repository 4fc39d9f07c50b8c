"""Report: journal.json, report.md and PNG panels of the key series in the report folder."""

from __future__ import annotations

import time

from chaos.scenarios.phases.context import RunContext
from chaos.scenarios.report import write_report


def run(ctx: RunContext) -> None:
    """Write the report; a report that cannot draw its panels says why and still gets written."""
    with ctx.phase("report", interruptible=False) as record:
        ctx.journal.ended_at = time.time()
        files, error = write_report(
            ctx.journal, ctx.scenario, ctx.stack.settings.prometheus_url, ctx.out_dir
        )
        record.output["files"] = [f.name for f in files]
        if error:
            ctx.note(record, error)
