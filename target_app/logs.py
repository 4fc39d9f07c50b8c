"""Structured JSON logs, one object a line, each carrying what ties it to a request and a trace.

Every line has time, level, service, logger and message; inside a request
also request_id and route; inside a span trace_id and span_id (hex, as OTel
shows them), so `faultyard logs --grep TRACE_ID` finds a trace's lines
(`trace_sampled: false` when the rate limit left the trace unrecorded); an
error line carries the SQLSTATE of the PostgreSQL error behind it.

The formatter is the shop's own, not python-json-logger's: every request logs a
line, and that library spent about 140 Python calls a line (its field merging
and logging's time formatting), 5 % of a catalog request's CPU under gunicorn.
This one builds the object in one pass and encodes it with orjson.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

import orjson
from flask import g, has_request_context, request
from opentelemetry import trace

from target_app.pgerrors import sqlstate


class ContextFilter(logging.Filter):
    """Add the request, trace and SQLSTATE fields to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        # The access line brings its request id and route along: no lookups for it.
        if "request_id" not in record.__dict__ and has_request_context():
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


#: What every LogRecord has; anything else on a record came from `extra` or a filter.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonLinesFormatter(logging.Formatter):
    """Format a record as one JSON object: time (UTC, ISO 8601), level, logger, message, service,
    then the record's extra fields, then `exc_info` and `stack_info` as text."""

    def __init__(self, *, service: str) -> None:
        super().__init__()
        self.service = service
        self._second = -1
        self._second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                line[key] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        try:
            return orjson.dumps(line, default=str).decode()
        except TypeError:  # what orjson cannot encode at all, such as an int beyond 64 bits
            return json.dumps(line, default=str, ensure_ascii=False)

    def _time(self, created: float) -> str:
        # Lines come many a second: the date and time part is formatted once a second.
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        # Nearest millisecond (a float's fraction of .001 is .000999...), never 1000.
        millis = min(999, round((created - second) * 1000))
        return f"{self._second_text}.{millis:03d}Z"


class JsonLinesHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that flushes each line under the lock `handle` already holds."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + "\n")
            self.stream.flush()
        except RecursionError:  # as StreamHandler does
            raise
        except Exception:
            self.handleError(record)


def json_handler(*, service: str, stream: TextIO) -> logging.Handler:
    """Return a handler writing the shop's JSON lines to `stream`."""
    handler = JsonLinesHandler(stream)
    handler.setFormatter(JsonLinesFormatter(service=service))
    handler.addFilter(ContextFilter())
    return handler


def configure_logging(*, service: str, level: str = "INFO") -> None:
    """Send JSON lines to stderr (the stack redirects it to the service's log file).

    Every request logs a line, so what the lines leave out is not computed either: the
    caller's file and line, thread and process names (logging's documented optimizations).
    """
    logging._srcfile = None  # type: ignore[attr-defined]  # no findCaller() stack walk
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [json_handler(service=service, stream=sys.stderr)]
    root.setLevel(level.upper())
