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

import _thread
import atexit
import contextlib
import json
import logging
import os
import select
import sys
import time
import weakref
from collections import deque
from typing import Any, TextIO

import orjson
from flask import has_request_context, request
from opentelemetry import trace
from opentelemetry.trace import Span

from target_app import periodic, request_state
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


#: How often a handler that defers lines writes them (as buffered metric values are).
DEFERRED_FLUSH_S = periodic.INTERVAL_S
#: The most one write() sends: a pipe (the compose shop's stderr) keeps writes up to
#: PIPE_BUF bytes whole, so the workers sharing it never mix their lines.
WRITE_MAX_BYTES = select.PIPE_BUF

#: A line to render later: when it was logged, logger name, message, fields, span.
PendingLine = tuple[float, str, str, dict[str, Any], Span]

_deferring: weakref.WeakSet[JsonLinesHandler] = weakref.WeakSet()
_flusher_pid: int | None = None


class JsonLinesHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes and flushes each line under an operating-system lock.

    Under gevent, `threading.RLock` is gevent's, written in Python: taking and
    releasing it cost a dozen calls a line. The lock here is the interpreter's
    own (`_thread.RLock`, which gevent leaves alone). It keeps native threads
    apart, such as gevent's monitor thread; greenlets never switch while one
    holds it, since writing a line to a file does not yield to the hub (and it
    is reentrant per thread, so a greenlet could never wait on another).

    With `defer_lines()`, the lines given to `line` (the access lines) are
    queued and rendered in batches: every DEFERRED_FLUSH_S, before any other
    line this handler writes (so this process's lines keep their order; the
    workers sharing a file interleave by batch, each line keeping the time it
    was logged), and when the process exits (`flush_deferred`, also called by
    gunicorn's worker_exit, and `flush`, called by logging at exit). A batch
    goes out in writes of at most WRITE_MAX_BYTES. Rendering a line inside a
    request cost about 2.8 % of a catalog request's CPU under load, where the
    same code run in a batch costs a fraction of that (measured side by side:
    +3.3 % throughput). A process killed with SIGKILL loses its last
    interval's access lines, as it loses its last interval's metric increments.
    """

    formatter: JsonLinesFormatter

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._pending: deque[PendingLine] | None = None

    def createLock(self) -> None:
        self.lock = _thread.RLock()
        logging._register_at_fork_reinit_lock(self)  # type: ignore[attr-defined]

    def defer_lines(self) -> None:
        """Queue the lines given to `line` from now on, and write them in batches."""
        if self._pending is None:
            self._pending = deque()
            _deferring.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        if self._pending:
            self._write_pending_or_report()  # the lines logged before this one, first
        try:
            self.stream.write(self.format(record) + "\n")
            self.stream.flush()
        except RecursionError:  # as StreamHandler does
            raise
        except Exception:
            self.handleError(record)

    def line(self, logger_name: str, message: str, fields: dict[str, Any], span: Span) -> None:
        """Write an INFO line of `logger_name` with `fields` and `span`'s trace fields
        (now, or in the next batch if deferring)."""
        pending = self._pending
        if pending is None:
            self.write_line(self._render((time.time(), logger_name, message, fields, span)))
            return
        pending.append((time.time(), logger_name, message, fields, span))
        global _flusher_pid
        if _flusher_pid != os.getpid():
            _flusher_pid = os.getpid()
            periodic.repeat_in_background("log-line-flusher", _flush_in_background)

    def flush_deferred(self) -> None:
        """Write the queued lines now."""
        if self._pending:
            with self.lock:  # type: ignore[union-attr]
                self._write_pending_or_report()

    def flush(self) -> None:
        """Write the queued lines, then flush the stream (logging.shutdown calls this at exit)."""
        self.flush_deferred()
        super().flush()

    def _write_pending_or_report(self) -> None:
        # Under the lock. A failed write is reported as logging reports one; the lines
        # taken from the queue are lost, as a line whose own write failed is.
        try:
            self._write_pending()
        except RecursionError:  # as StreamHandler does
            raise
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": "queued access lines"}))

    def _write_pending(self) -> None:
        pending = self._pending
        chunk: list[str] = []
        size = 0
        while pending:  # popleft, not a swap: a native thread may append meanwhile
            line = self._render(pending.popleft()) + "\n"
            length = len(line) if line.isascii() else len(line.encode())
            if chunk and size + length > WRITE_MAX_BYTES:
                self._write_whole("".join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += length
        if chunk:  # nothing, if another thread took the lines first
            self._write_whole("".join(chunk))

    def _write_whole(self, text: str) -> None:
        # Line buffered (stderr): flushed now, in one write() while under WRITE_MAX_BYTES.
        self.stream.write(text)
        self.stream.flush()

    def _render(self, item: PendingLine) -> str:
        created, logger_name, message, fields, span = item
        line = self.formatter.line_of(logger_name, "INFO", message, created)
        line.update(fields)
        add_trace_fields(line, span)
        return encode(line)

    def write_line(self, text: str) -> None:
        """Write an encoded line as `handle` writes a record's: under the lock, flushed.

        For a handler that does not defer lines (one that does queues them in `line`).
        """
        with self.lock:  # type: ignore[union-attr]
            try:
                self.stream.write(text + "\n")
                self.stream.flush()
            except RecursionError:
                raise
            except Exception:
                self.handleError(logging.makeLogRecord({"msg": text}))


def flush_deferred() -> None:
    """Write every deferring handler's queued lines (at exit, and from gunicorn's worker_exit)."""
    for handler in list(_deferring):
        handler.flush_deferred()


def _flush_in_background() -> None:
    # Errors are reported by handleError; a RecursionError must not end the flusher.
    with contextlib.suppress(RecursionError):
        flush_deferred()


def _forget_parent_lines() -> None:
    # A forked child (an RQ work horse) must not write its parent's queued lines again.
    for handler in list(_deferring):
        if handler._pending:
            handler._pending.clear()


os.register_at_fork(after_in_child=_forget_parent_lines)
atexit.register(flush_deferred)


class DirectLines:
    """Log lines of one logger, written without a LogRecord when nothing else would see them.

    The shop logs an access line per request. Through `logging` a line costs
    about 90 Python calls (the record, the filters, the handler's lock, the
    formatter), about 5 % of a catalog request. When the logger's only
    destination is one `JsonLinesHandler` whose only filter is the
    `ContextFilter` (how `configure_logging` sets every process up), a line is
    built here with the same fields in the same order and written to that
    handler. Any other set-up (another handler, a filter, a level that drops
    the line) goes through `logging` as usual, so nothing that listens misses a line.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def info(self, message: str, fields: dict[str, Any], span: Span | None = None) -> None:
        """Log `message` at INFO with `fields` (as `extra`) and the trace fields.

        `span` is the current span, when the caller has it at hand (else it is looked up).
        """
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        handler = self._only_handler()
        if handler is None:
            logger.info(message, extra=fields)
            return
        handler.line(
            logger.name, message, fields, trace.get_current_span() if span is None else span
        )

    def _only_handler(self) -> JsonLinesHandler | None:
        # What Logger.callHandlers would reach: every handler up the propagation chain.
        found = None
        node: logging.Logger | None = self.logger
        while node is not None:
            if node.filters:
                return None
            if node.handlers:
                if found is not None or len(node.handlers) != 1:
                    return None
                found = node.handlers[0]
            if not node.propagate:
                break
            node = node.parent
        if (
            type(found) is not JsonLinesHandler
            or found.level > logging.INFO
            or len(found.filters) != 1
            or type(found.filters[0]) is not ContextFilter
            or type(found.formatter) is not JsonLinesFormatter
        ):
            return None
        return found


def json_handler(*, service: str, stream: TextIO) -> JsonLinesHandler:
    """Return a handler writing the shop's JSON lines to `stream`."""
    handler = JsonLinesHandler(stream)
    handler.setFormatter(JsonLinesFormatter(service=service))
    handler.addFilter(ContextFilter())
    return handler


def configure_logging(*, service: str, level: str = "INFO", defer_lines: bool = False) -> None:
    """Send JSON lines to stderr (the stack redirects it to the service's log file).

    Every request logs a line, so what the lines leave out is not computed either: the
    caller's file and line, thread and process names (logging's documented optimizations).
    `defer_lines`: access lines are written in batches (`JsonLinesHandler.defer_lines`).
    """
    logging._srcfile = None  # type: ignore[attr-defined]  # no findCaller() stack walk
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    handler = json_handler(service=service, stream=sys.stderr)
    if defer_lines:
        handler.defer_lines()
    for replaced in root.handlers:
        replaced.flush()  # what a handler deferring lines still holds
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
