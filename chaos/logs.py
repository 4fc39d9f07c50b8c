"""Read the stack's log files back as timed lines: one service's, or every one's, over a time range.

Each service writes STATE/logs/NAME.log (chaos.stack.manager). A line with no time
of its own (a traceback, PostgreSQL's DETAIL of an error) stays with the line
before it: it is one entry, matched, filtered and shown together. Only the end
of a large file is read: an entry older than that is not seen, and the answer
says so (`clipped`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.log_formats import LEVELS, Parsed, line_time, parse_line

#: How much of the end of each file is read: the recent past, even of a chatty service.
MAX_READ_BYTES = 32 * 1024 * 1024


@dataclass
class LogLine:
    """One entry of a service's log: its time, normalised level, message and JSON fields."""

    time: float
    service: str
    level: str
    message: str
    trace_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """Return the entry as the console's API answers it."""
        return {
            "time": self.time,
            "service": self.service,
            "level": self.level,
            "message": self.message,
            "trace_id": self.trace_id,
            "fields": self.fields,
        }


@dataclass
class Entry:
    """A line with a time and the lines after it that have none, as the file holds them."""

    time: float
    lines: list[str]

    @property
    def raw(self) -> str:
        """Return the entry's text as written."""
        return "\n".join(self.lines)


def log_dir(state: Path) -> Path:
    """Return the folder of the services' log files in a state folder."""
    return state / "logs"


def _tail_lines(path: Path, max_bytes: int) -> Iterator[str]:
    """Yield the lines of the last `max_bytes` of a file (the first whole line on from there)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            f.seek(size - max_bytes)
            f.readline()  # the rest of a line that began before the cut
        for raw in f:
            yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def read_entries(
    path: Path, *, start: float, end: float, max_bytes: int = MAX_READ_BYTES
) -> tuple[list[Entry], bool]:
    """Return a file's entries logged within [start, end], and whether its read was clipped.

    Clipped: the file was longer than `max_bytes` and its oldest entry read is after `start`.
    Lines before the first line with a time (a read begun mid-traceback) are dropped.
    """
    try:
        status = path.stat()
    except FileNotFoundError:
        return [], False
    if status.st_mtime < start:
        return [], False  # written to last before the range began
    cut = status.st_size > max_bytes
    found: list[Entry] = []
    current: Entry | None = None
    oldest: float | None = None
    for line in _tail_lines(path, max_bytes):
        stamp = line_time(line)
        if stamp is None:
            if current is not None and line:
                current.lines.append(line)
            continue
        if oldest is None:
            oldest = stamp
        current = Entry(stamp, [line])
        if start <= stamp <= end:
            found.append(current)
    return found, cut and (oldest is None or oldest > start)


def to_log_line(entry: Entry, service: str) -> LogLine:
    """Parse an entry in full: its first line's format, then the lines that continue it."""
    first = parse_line(entry.lines[0]) or Parsed(entry.time, message=entry.lines[0])
    message = [first.message]
    for line in entry.lines[1:]:
        more = parse_line(line)
        message.append(more.message if more is not None and more.continues else line)
    return LogLine(
        time=entry.time,
        service=service,
        level=first.level,
        message="\n".join(message),
        trace_id=first.trace_id,
        fields=first.fields,
    )


@dataclass
class LogQuery:
    """Which entries to keep: a time range, a minimum level, a text; at most `limit`, the newest."""

    start: float
    end: float
    min_level: str = "DEBUG"
    text: str | None = None
    limit: int = 500


@dataclass
class LogAnswer:
    """The entries found, oldest first, whether more matched, and which files were read in part."""

    lines: list[LogLine]
    truncated: bool
    clipped: list[str]


def newest_matching(
    entries: list[Entry], service: str, query: LogQuery
) -> tuple[list[LogLine], bool]:
    """Return a file's newest `query.limit` entries that match, oldest first, and whether more did.

    Parses from the newest back and stops past the limit: older entries cannot be in the answer.
    """
    needle = query.text.lower() if query.text else None
    floor = LEVELS.index(query.min_level)
    kept: list[LogLine] = []
    # Sorted first: lines of a file may be out of order (a worker's batched access lines).
    for entry in reversed(sorted(entries, key=lambda e: e.time)):
        if needle is not None and needle not in entry.raw.lower():
            continue
        line = to_log_line(entry, service)
        if LEVELS.index(line.level) < floor:
            continue
        if len(kept) == query.limit:
            return kept[::-1], True
        kept.append(line)
    return kept[::-1], False


def search_logs(
    folder: Path, services: Iterable[str], query: LogQuery, *, max_bytes: int | None = None
) -> LogAnswer:
    """Return the entries of these services' log files that match a query, newest last.

    Each file is read from `max_bytes` before its end (MAX_READ_BYTES by default).
    """
    max_bytes = MAX_READ_BYTES if max_bytes is None else max_bytes
    found: list[LogLine] = []
    more = False
    clipped: list[str] = []
    for service in services:
        entries, cut = read_entries(
            folder / f"{service}.log", start=query.start, end=query.end, max_bytes=max_bytes
        )
        if cut:
            clipped.append(service)
        lines, file_had_more = newest_matching(entries, service, query)
        found += lines
        more = more or file_had_more
    found.sort(key=lambda line: line.time)  # stable: a file's own order for equal times
    kept = found[-query.limit :]
    return LogAnswer(kept, truncated=more or len(found) > len(kept), clipped=clipped)
