"""The drill over the Model Context Protocol: `faultyard mcp` serves the agent's tools.

One tool per thing an on-call person has: the page, Prometheus, logs, traces, the
read-only `faultyard` commands, the remedies, hints and answers. None of them names
the hidden fault while the drill runs, and the grade is the person's.
"""

from __future__ import annotations

import functools
import inspect
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from chaos.drill import agent_observe, agent_tools
from chaos.drill.agent_tools import DrillTools
from chaos.errors import FaultyardError

INSTRUCTIONS = """\
You are on call for a small web shop: Flask under gunicorn, PostgreSQL, Redis, RQ
workers for payments, an outbox relay; every network link goes through a proxy.
drill_start starts a drill: shoppers come, and after a quiet while the pager goes
off. Something may be wrong, or the page may be a false alarm (about one drill in
six). Investigate as a person would: prometheus_query and prometheus_query_range,
logs, slowest_traces, and the read-only `faultyard` commands. Then drill_answer:
is something wrong (detection, 20 points), which component (localisation, 20),
which root cause of the offered choices (30). Mitigate (30): drill_deploy_fix after
naming the root cause, or a remedy an on-call engineer has (change_setting,
reload_service) when it is the right one; the drill checks that every SLO holds
again. drill_end grades what you answered; each drill_hint costs 5 points.
"""

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
ACT = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)


def _reported(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the tool's expected failures into errors the agent reads (and can act on)."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FaultyardError as exc:
            raise ToolError(str(exc)) from None
        except subprocess.TimeoutExpired as exc:
            raise ToolError(f"the command took more than {exc.timeout:g}s") from None

    return call


def build_server(report_root: Path) -> MCPServer:
    """Return the MCP server of the drill, its debriefs written under `report_root`."""
    server: MCPServer = MCPServer(name="faultyard", instructions=INSTRUCTIONS, log_level="WARNING")
    drill = DrillTools(report_root=report_root)
    tools: list[tuple[str, Callable[..., Any], ToolAnnotations]] = [
        ("drill_start", drill.start, ACT),
        ("drill_status", drill.status, READ),
        ("drill_hint", drill.hint, ACT),
        ("drill_answer", drill.answer, ACT),
        ("drill_deploy_fix", drill.deploy_fix, ACT),
        ("drill_end", drill.end, ACT),
        ("drill_give_up", drill.give_up, ACT),
        ("prometheus_query", agent_observe.prometheus_query, READ),
        ("prometheus_query_range", agent_observe.prometheus_query_range, READ),
        ("logs", agent_observe.logs, READ),
        ("slowest_traces", agent_observe.slowest_traces, READ),
        ("faultyard", agent_tools.faultyard_command, READ),
        ("change_setting", agent_tools.change_setting, ACT),
        ("reload_service", agent_tools.reload_service, ACT),
    ]
    for name, fn, hints in tools:
        description = inspect.cleandoc(fn.__doc__ or "")
        server.add_tool(_reported(fn), name=name, description=description, annotations=hints)
    return server


def serve(report_root: Path) -> None:
    """Serve the drill over stdio until the client closes the connection."""
    build_server(report_root).run("stdio")
