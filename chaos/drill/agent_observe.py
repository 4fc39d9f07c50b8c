"""What an agent on call can look at: Prometheus, the logs and the traces (chaos.drill.mcp_server).

Logs and traces come from the `faultyard logs` and `faultyard traces` commands, run
as a person would (chaos.drill.agent_tools.run_faultyard), so they go on the drill's
timeline; Prometheus answers through the tool's own client. Each answer is bounded
in size, so that it fits an agent's context.
"""

from __future__ import annotations

import math
import time
from typing import Any

from chaos.drill.agent_tools import ToolRefused, run_faultyard
from chaos.durations import DurationError, parse_seconds
from chaos.monitoring.prometheus import PrometheusClient
from chaos.settings import load_stack_settings

MAX_SERIES = 50
MAX_POINTS = 500
DEFAULT_POINTS = 60
MAX_RANGE_S = 6 * 3600.0
MAX_LOG_LINES = 500
LOG_SCAN_LINES = 5000  # with a level filter, the lines read before filtering
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Words of other services' log lines (PostgreSQL, Redis) and the level each stands for.
LEVEL_WORDS = {"PANIC": "CRITICAL", "FATAL": "CRITICAL", "CRITICAL": "CRITICAL",
               "ERROR": "ERROR", "WARNING": "WARNING"}  # fmt: skip


def logs(
    service: str | None = None, grep: str | None = None, level: str | None = None, lines: int = 50
) -> str:
    """Read a service's log, as `faultyard logs` (every service's without `service`): the
    last `lines` lines (500 at most), only those containing `grep` (a trace id finds a
    trace's lines), and with `level` only lines at that level or above (DEBUG, INFO,
    WARNING, ERROR, CRITICAL). Services: app, worker-1, worker-2, scheduler, relay,
    postgres, redis, proxy, prometheus, exporter and the other exporters."""
    keep = min(max(lines, 1), MAX_LOG_LINES)
    if level is not None and level.upper() not in LEVELS:
        raise ToolRefused(f"level: one of {', '.join(LEVELS)}")
    scan = LOG_SCAN_LINES if level else keep
    args = ["logs", *([service] if service else []), "-n", str(scan)]
    text = run_faultyard(*args, *(["--grep", grep] if grep else []))
    return _at_level(text, level.upper(), keep) if level else text


def _at_level(text: str, level: str, keep: int) -> str:
    """Keep the lines at `level` or above, the last `keep` of each service's block."""
    wanted = LEVELS[LEVELS.index(level) :]
    kept: list[str] = []
    block: list[str] = []
    for line in text.splitlines():
        if line.startswith(("== ", "$ faultyard ", "(exit ")):
            kept += [*block[-keep:], line]
            block = []
        elif _level_of(line) in wanted:
            block.append(line)
    return "\n".join(kept + block[-keep:])


def _level_of(line: str) -> str:
    if line.startswith("{"):
        for name in LEVELS:
            if f'"level":"{name}"' in line:
                return name
    return next((lvl for word, lvl in LEVEL_WORDS.items() if word in line), "INFO")


def slowest_traces(
    count: int = 10, since: str | None = None, route: str | None = None, errors_only: bool = False
) -> str:
    """Show the slowest traces as span trees (start offset and duration in ms, errors), as
    `faultyard traces --slowest N`: only those that ended in the last `since` (30s, 10m,
    2h), through a route containing `route`, or with a failed span. Runs of similar
    sibling spans (an N+1 loop) show as one line."""
    args = ["traces", "--slowest", str(min(max(count, 1), 50))]
    args += [*(["--since", since] if since else []), *(["--route", route] if route else [])]
    return run_faultyard(*args, *(["--errors"] if errors_only else []))


def prometheus_query(expr: str) -> dict[str, Any]:
    """Evaluate a PromQL instant query on the stack's Prometheus (scraped every second):
    each series' labels and value now (50 series at most)."""
    series = PrometheusClient(load_stack_settings().prometheus_url).query(expr)
    return {
        "expr": expr,
        "series_count": len(series),
        "series": [
            {"labels": s.labels, "time": s.times[0], "value": _value(s.values[0])}
            for s in series[:MAX_SERIES]
        ],
    }


def prometheus_query_range(
    expr: str, since: str = "15m", until: str = "0s", step: str | None = None
) -> dict[str, Any]:
    """Evaluate a PromQL range query from `since` ago to `until` ago (durations: 30s, 10m, 2h;
    6 h at most), one point every `step` (by default the range over 60; 500 points
    a series at most): each series' labels and [unix time, value] points (50 at most)."""
    try:
        start_ago, end_ago = parse_seconds(since), parse_seconds(until)
        step_s = parse_seconds(step) if step else None
    except DurationError as exc:
        raise ToolRefused(str(exc)) from None
    span = start_ago - end_ago
    if not 0 < span <= MAX_RANGE_S:
        raise ToolRefused("since must be longer ago than until, by 6 h at most")
    step_s = step_s or max(1.0, span / DEFAULT_POINTS)
    if step_s <= 0 or span / step_s > MAX_POINTS:
        raise ToolRefused(
            f"{MAX_POINTS} points a series at most: a step of {span / MAX_POINTS:g}s or more"
        )
    now = time.time()
    client = PrometheusClient(load_stack_settings().prometheus_url)
    series = client.query_range(expr, start=now - start_ago, end=now - end_ago, step_s=step_s)
    return {
        "expr": expr,
        "step_s": step_s,
        "series_count": len(series),
        "series": [
            {
                "labels": s.labels,
                "points": [[t, _value(v)] for t, v in zip(s.times, s.values, strict=True)],
            }
            for s in series[:MAX_SERIES]
        ],
    }


def _value(v: float) -> float | str:
    """Return a sample as JSON can carry it: 6 significant digits, or "NaN", "Inf", "-Inf"."""
    return (
        float(f"{v:.6g}")
        if math.isfinite(v)
        else str(v).replace("inf", "Inf").replace("nan", "NaN")
    )
