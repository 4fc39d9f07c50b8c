"""The console's evidence API: the log lines and the slowest traces of a time range, as JSON.

What an on-call person reads next to a panel: for the range the dashboard shows,
every service's log lines (STATE/logs, through chaos.logs) and the slowest
requests as span trees (STATE/traces, through chaos.traces); a log line's
trace_id is the id `/api/traces/<trace_id>` answers for.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request

from chaos.console.dashboards_api import time_range
from chaos.log_formats import LEVELS
from chaos.logs import LogQuery, log_dir, search_logs
from chaos.settings import StackSettings
from chaos.traces import (
    NoTracesError,
    Trace,
    as_json,
    build_traces,
    read_spans,
    select_traces,
    span_files,
)
from target_app.public import traces_dir

DEFAULT_LOG_LINES = 500
MAX_LOG_LINES = 5000
DEFAULT_TRACES = 10
MAX_TRACES = 100
_TRACE_ID = re.compile(r"[0-9a-f]{32}")

evidence = Blueprint("evidence_api", __name__, url_prefix="/api")


def _settings() -> StackSettings:
    settings: StackSettings = current_app.config["STACK"]
    return settings


def _int_arg(name: str, default: int, highest: int) -> int:
    """Read a whole-number argument from 1 to `highest`; 400 otherwise."""
    text = request.args.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= highest:
        abort(400, description=f"{name} is a whole number from 1 to {highest}")
    return value


def service_names(settings: StackSettings) -> list[str]:
    """Return the stack's services in start order, then any other service with a log file."""
    # Imported here: the services' health checks load psycopg, redis and rq, which the
    # console needs for nothing else; only the first call for logs pays for them.
    from chaos.stack.manager import Stack

    declared = Stack(settings).names()
    folder = log_dir(settings.state_path)
    present = sorted(p.stem for p in folder.glob("*.log")) if folder.is_dir() else []
    return declared + [name for name in present if name not in declared]


@evidence.get("/logs")
def logs() -> Any:
    """The log lines logged within `from`..`to`, newest last, at most `limit` (the newest).

    `service` keeps one service's lines, `level` those at least that severe, and `q`
    those whose text holds it (any case): a trace id or a request id finds its lines.
    """
    start, end = time_range(request.args, time.time())
    settings = _settings()
    names = service_names(settings)
    service = request.args.get("service") or None
    if service is not None and service not in names:
        abort(400, description=f"unknown service {service!r}; known: {', '.join(names)}")
    level = (request.args.get("level") or "DEBUG").upper()
    if level not in LEVELS:
        abort(400, description=f"unknown level {level!r}; known: {', '.join(LEVELS)}")
    query = LogQuery(
        start=start,
        end=end,
        min_level=level,
        text=request.args.get("q") or None,
        limit=_int_arg("limit", DEFAULT_LOG_LINES, MAX_LOG_LINES),
    )
    found = search_logs(log_dir(settings.state_path), [service] if service else names, query)
    return jsonify(
        {
            "from": start,
            "to": end,
            "lines": [line.as_json() for line in found.lines],
            "truncated": found.truncated,
            "clipped": found.clipped,
            "services": names,
        }
    )


def trace_json(trace: Trace) -> dict[str, Any]:
    """Return a trace as `faultyard traces --json` prints it, with its start in Unix seconds."""
    return {**as_json(trace), "start_time": trace.start_ns / 1e9}


def _flag(name: str) -> bool:
    text = request.args.get(name, "0")
    if text not in ("0", "1", "true", "false"):
        abort(400, description=f"{name} is 0 or 1")
    return text in ("1", "true")


def _span_files(directory: Path) -> tuple[list[Path], str | None]:
    """Return the span files, or none and why (tracing off, spans sent to OTLP)."""
    try:
        return span_files(directory), None
    except NoTracesError as exc:
        return [], str(exc)


def _written_since(path: Path, since_ns: int) -> bool:
    """Tell whether a span file was written to at or after `since_ns` (a pruned one was not)."""
    try:
        return path.stat().st_mtime_ns >= since_ns
    except FileNotFoundError:
        return False


@evidence.get("/traces")
def traces() -> Any:
    """The slowest traces whose first span started within `from`..`to`, as span trees.

    `route` keeps the traces through a route holding that text (streams only when it
    names them), `errors=1` those with a failed span; `limit` how many (10).
    """
    start, end = time_range(request.args, time.time())
    limit = _int_arg("limit", DEFAULT_TRACES, MAX_TRACES)
    route = request.args.get("route") or None
    errors_only = _flag("errors")
    directory = traces_dir(_settings().state_path)
    start_ns, end_ns = int(start * 1e9), int(end * 1e9)
    # Whole files, every span: a trace begun before the range must not lose its first
    # span and pass for one begun within it. A file last written before it holds no such trace.
    every, note = _span_files(directory)
    files = [f for f in every if _written_since(f, start_ns)]
    within = [t for t in build_traces(read_spans(files)) if start_ns <= t.root.start_ns <= end_ns]
    chosen = select_traces(within, route=route, errors_only=errors_only, slowest=limit)
    return jsonify(
        {
            "from": start,
            "to": end,
            "traces": [trace_json(t) for t in chosen],
            "begun": len(within),
            "note": note,
        }
    )


@evidence.get("/traces/<trace_id>")
def show_trace(trace_id: str) -> Any:
    """One trace's span tree, from every span file (the id: 32 hex digits, as logs show it)."""
    trace_id = trace_id.lower()
    if not _TRACE_ID.fullmatch(trace_id):
        abort(400, description=f"{trace_id!r} is not a trace id (32 hex digits)")
    files, note = _span_files(traces_dir(_settings().state_path))
    if note is not None:
        abort(404, description=note)
    spans = (s for s in read_spans(files, containing=trace_id) if s.trace_id == trace_id)
    found = build_traces(spans)
    if not found:
        abort(404, description=f"no trace {trace_id} in the span files ({len(files)} read)")
    return jsonify(trace_json(found[0]))
