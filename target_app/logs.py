"""Structured JSON logs, one object a line, each carrying what ties it to a request and a trace.

Every line has time, level, service, logger and message; inside a request
also request_id and route; inside a span trace_id and span_id (hex, as OTel
shows them), so `faultyard logs --grep TRACE_ID` finds a trace's lines
(`trace_sampled: false` when the rate limit left the trace unrecorded); an
error line carries the SQLSTATE of the PostgreSQL error behind it.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from flask import g, has_request_context, request
from opentelemetry import trace
from pythonjsonlogger.orjson import OrjsonFormatter

from target_app.pgerrors import sqlstate


class ContextFilter(logging.Filter):
    """Add the request, trace and SQLSTATE fields to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id")
            rule = request.url_rule
            record.route = rule.rule if rule is not None else None
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
            if not context.trace_flags.sampled:
                record.trace_sampled = False  # `faultyard traces` will not show it
        if record.levelno >= logging.ERROR and getattr(record, "sqlstate", None) is None:
            # Loggers that format the traceback into the message (RQ's) log from
            # inside the except block, where the error is still current.
            exc = record.exc_info[1] if record.exc_info else sys.exc_info()[1]
            code = sqlstate(exc)
            if code:
                record.sqlstate = code
        return True


def json_handler(*, service: str, stream: TextIO) -> logging.Handler:
    """Return a handler writing the shop's JSON lines to `stream`."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        OrjsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    handler.addFilter(ContextFilter())
    return handler


def configure_logging(*, service: str, level: str = "INFO") -> None:
    """Send JSON lines to stderr (the stack redirects it to the service's log file).

    Every request logs a line, so what the lines leave out is not computed either: the
    caller's file and line, thread and process names (logging's documented optimizations).
    With orjson, these halve what a line costs (35 to 19 µs measured).
    """
    logging._srcfile = None  # type: ignore[attr-defined]  # no findCaller() stack walk
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [json_handler(service=service, stream=sys.stderr)]
    root.setLevel(level.upper())
