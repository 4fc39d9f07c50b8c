"""Set a process up to log JSON lines to stderr (format: log_format; writing: log_handler)."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from target_app.instrumentation.log_format import ContextFilter, JsonLinesFormatter
from target_app.instrumentation.log_handler import JsonLinesHandler


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
