"""The JSON-lines format: one object a line, each carrying what ties it to a request and a trace.

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
from typing import Any

import orjson
from flask import has_request_context, request
from opentelemetry import trace
from opentelemetry.trace import Span

from target_app.instrumentation import request_state
from target_app.pgerrors import sqlstate


class ContextFilter(logging.Filter):
    """Add the request, trace and SQLSTATE fields to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        # The access line brings its request id and route along: no lookups for it.
        if "request_id" not in fields and has_request_context():
            observed = request_state.current()
            fields["request_id"] = observed.request_id if observed is not None else None
            rule = request.url_rule
            fields["route"] = rule.rule if rule is not None else None
        add_trace_fields(fields)
        if record.levelno >= logging.ERROR and fields.get("sqlstate") is None:
            # Loggers that format the traceback into the message (RQ's) log from
            # inside the except block, where the error is still current.
            exc = record.exc_info[1] if record.exc_info else sys.exc_info()[1]
            code = sqlstate(exc)
            if code:
                fields["sqlstate"] = code
        return True


def add_trace_fields(fields: dict[str, Any], span: Span | None = None) -> None:
    """Add the span's trace_id and span_id (and trace_sampled: false when unrecorded).

    `span` defaults to the current span.
    """
    context = (trace.get_current_span() if span is None else span).get_span_context()
    if context.is_valid:
        fields["trace_id"] = format(context.trace_id, "032x")
        fields["span_id"] = format(context.span_id, "016x")
        if not context.trace_flags.sampled:
            fields["trace_sampled"] = False  # `faultyard traces` will not show it


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
        return encode(line)

    def line_of(
        self, logger_name: str, levelname: str, message: str, created: float
    ) -> dict[str, Any]:
        """Return the standard fields of a line logged at `created`, in `format`'s order."""
        return {
            "time": self._time(created),
            "level": levelname,
            "logger": logger_name,
            "message": message,
            "service": self.service,
        }

    def _time(self, created: float) -> str:
        # Lines come many a second: the date and time part is formatted once a second.
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        # Nearest millisecond (a float's fraction of .001 is .000999...), never 1000.
        millis = min(999, round((created - second) * 1000))
        return f"{self._second_text}.{millis:03d}Z"


def encode(line: dict[str, Any]) -> str:
    """Return `line` as compact JSON; values JSON cannot hold are written as their str()."""
    try:
        return orjson.dumps(line, default=str).decode()
    except TypeError:  # what orjson cannot encode at all, such as an int beyond 64 bits
        return json.dumps(line, default=str, ensure_ascii=False)
