"""`faultyard mcp`: the drill for an AI agent, over the Model Context Protocol."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where each drill's debrief folder drill-TIMESTAMP goes.",
)
def mcp(report_dir: Path) -> None:
    """Serve the drill to an AI agent over MCP on stdin/stdout (an MCP client starts it).

    \b
    The agent gets what a person on call has, as tools: drill_start, drill_status
    (the page), prometheus_query, prometheus_query_range, logs, slowest_traces,
    faultyard (status, switch list, setting [NAME], toxic list), change_setting and
    reload_service (remedies), drill_hint, drill_answer, drill_deploy_fix, drill_end
    and drill_give_up. Nothing names the hidden fault while the drill runs; the
    `faultyard` commands the tools run go on the drill's timeline, and the grade is
    a person's. Settings (state folder, ports) come from FAULTYARD_* variables.
    """
    from chaos.drill.mcp_server import serve  # the MCP SDK only when serving

    serve(report_dir)
