"""Parse one line of any of the stack's log files: its time, level, message and fields.

The stack's processes log in their own formats: the shop's JSON lines, gunicorn's
and rq-exporter's bracketed lines, PostgreSQL's `log_line_prefix` (chaos.stack.postgres),
Go's logfmt (Prometheus and the exporters), Redis's, and Python's default
`%(asctime)s %(levelname)s %(name)s %(message)s` (the exporter, the proxy). A line
none of them matches (a traceback, a banner) has no time of its own: `parse_line`
returns None and the reader keeps it with the line before.

Formats that write no zone (Redis, Python's asctime, rq-exporter) write the local
time of the machine, which is this process's too.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: The levels, least severe first; every format's level maps onto one of them.
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LEVEL_NAMES = {
    **{name: name for name in LEVELS},
    "TRACE": "DEBUG",
    "VERBOSE": "DEBUG",
    "LOG": "INFO",  # PostgreSQL's routine messages
    "NOTICE": "INFO",
    "WARN": "WARNING",
    "ERR": "ERROR",
    "FATAL": "ERROR",  # PostgreSQL's: a session ends, the server lives on
    "PANIC": "ERROR",
    "CRIT": "CRITICAL",
    "ALERT": "CRITICAL",
    "EMERG": "CRITICAL",
}
#: Redis's level marks: debug, verbose, notice, warning.
_REDIS_LEVELS = {".": "DEBUG", "-": "DEBUG", "*": "INFO", "#": "WARNING"}
_MONTHS = {m: n for n, m in enumerate(calendar.month_abbr) if m}
#: The JSON keys that are the line's own columns rather than its fields.
_JSON_COLUMNS = ("time", "level", "message", "trace_id")


@dataclass
class Parsed:
    """What one line says: when, how severe, what; `continues` marks a line of the one before."""

    time: float
    level: str = "INFO"
    message: str = ""
    trace_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    continues: bool = False


def normal_level(name: str) -> str:
    """Return a format's level name as one of LEVELS (PostgreSQL's DEBUG1..5 are DEBUG)."""
    upper = name.upper()
    return "DEBUG" if upper.startswith("DEBUG") else _LEVEL_NAMES.get(upper, "INFO")


def _clock(day: tuple[int, int, int], hms: str, fraction: str, zone: str | None) -> float:
    """Return Unix seconds of a wall-clock time: UTC, an offset (+0100, +01), else local."""
    hour, minute, second = (int(x) for x in hms.split(":"))
    moment = (*day, hour, minute, second, 0, 0, -1)
    extra = float(f"0.{fraction}") if fraction else 0.0
    if zone in ("UTC", "GMT", "Z", "+0000", "+00"):
        return calendar.timegm(moment) + extra
    if zone and zone[0] in "+-" and zone[1:].isdigit():
        sign = -1 if zone[0] == "-" else 1
        offset_s = sign * (int(zone[1:3]) * 3600 + int(zone[3:5] or 0) * 60)
        return calendar.timegm(moment) - offset_s + extra
    return time.mktime(moment) + extra  # no zone, or a name we cannot resolve: local time


def _date(text: str) -> tuple[int, int, int]:
    year, month, day = text.split("-")
    return int(year), int(month), int(day)


def iso_time(text: str) -> float:
    """Return Unix seconds of an ISO 8601 time (a time without a zone is UTC)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


_JSON_TIME = re.compile(r'"time"\s*:\s*"([^"]+)"')


def _json(line: str) -> Parsed | None:
    try:
        record = json.loads(line)
        stamp = iso_time(str(record["time"]))
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(record, dict):
        return None
    trace_id = record.get("trace_id")
    return Parsed(
        time=stamp,
        level=normal_level(str(record.get("level", "INFO"))),
        message=str(record.get("message", record.get("msg", ""))),
        trace_id=str(trace_id) if trace_id else None,
        fields={k: v for k, v in record.items() if k not in _JSON_COLUMNS},
    )


_PG = re.compile(
    r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))? (\S+) \[(\d+)\] (.*?)\b"
    r"(DEBUG[1-5]|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC"
    r"|DETAIL|HINT|STATEMENT|CONTEXT|QUERY|LOCATION):  ?(.*)"
)
#: What PostgreSQL writes after an error, on lines of their own: they belong to it.
_PG_CONTINUATIONS = frozenset({"DETAIL", "HINT", "STATEMENT", "CONTEXT", "QUERY", "LOCATION"})


def _postgres(m: re.Match[str]) -> Parsed:
    day, hms, fraction, zone, pid, application, kind, text = m.groups()
    fields: dict[str, Any] = {"pid": int(pid)}
    if application.strip():
        fields["application"] = application.strip()
    if kind in _PG_CONTINUATIONS:
        return Parsed(
            _clock(_date(day), hms, fraction, zone), message=f"{kind}:  {text}", continues=True
        )
    return Parsed(_clock(_date(day), hms, fraction, zone), normal_level(kind), text, fields=fields)


_PYTHON = re.compile(
    r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3}) (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+) ?(.*)"
)


def _python(m: re.Match[str]) -> Parsed:
    day, hms, millis, level, logger, text = m.groups()
    return Parsed(_clock(_date(day), hms, millis, None), level, text, fields={"logger": logger})


# gunicorn: [2026-12-07 00:54:31 +0000] [16722] [INFO] ...; rq-exporter: [2026-12-07 00:50:39] [rq_exporter] [INFO]: ...
_BRACKETED = re.compile(
    r"\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:[.,](\d+))?(?: ([+-]\d{4}))?\] "
    r"\[([^\]]*)\] \[(\w+)\]:? ?(.*)"
)


def _bracketed(m: re.Match[str]) -> Parsed:
    day, hms, fraction, zone, source, level, text = m.groups()
    key = "pid" if source.isdigit() else "logger"
    value: Any = int(source) if source.isdigit() else source
    return Parsed(
        _clock(_date(day), hms, fraction, zone), normal_level(level), text, fields={key: value}
    )


# gunicorn's access log: 127.0.0.1 - - [07/Dec/2026:00:50:40 +0000] "GET /healthz HTTP/1.1" 200 ...
_ACCESS = re.compile(r"\S+ \S+ \S+ \[(\d\d)/(\w{3})/(\d{4}):(\d\d:\d\d:\d\d) ([+-]\d{4})\] ")


def _access(m: re.Match[str]) -> Parsed | None:
    day, month, year, hms, zone = m.groups()
    if month not in _MONTHS:
        return None
    return Parsed(_clock((int(year), _MONTHS[month], int(day)), hms, "", zone), message=m.string)


_REDIS = re.compile(
    r"(\d+):[A-Z] (\d\d) (\w{3}) (\d{4}) (\d\d:\d\d:\d\d)(?:\.(\d+))? ([.\-*#]) (.*)"
)
_REDIS_SIGNAL = re.compile(r"(\d+):signal-handler \((\d+)\) (.*)")


def _redis(m: re.Match[str]) -> Parsed | None:
    pid, day, month, year, hms, fraction, mark, text = m.groups()
    if month not in _MONTHS:
        return None
    stamp = _clock((int(year), _MONTHS[month], int(day)), hms, fraction, None)
    return Parsed(stamp, _REDIS_LEVELS[mark], text, fields={"pid": int(pid)})


def _redis_signal(m: re.Match[str]) -> Parsed:
    pid, unix_s, text = m.groups()
    return Parsed(float(unix_s), message=text, fields={"pid": int(pid)})


# Go's logfmt: ts=2026-12-07T00:54:31.763Z caller=main.go:551 level=info msg="Starting ..."
_LOGFMT = re.compile(r'(?:ts|time)="?(\d{4}-\d\d-\d\dT[^" ]+)"?(?: |$)')
_LOGFMT_PAIR = re.compile(r'([\w.-]+)=("(?:[^"\\]|\\.)*"|\S*)')


def _logfmt(m: re.Match[str]) -> Parsed | None:
    try:
        stamp = iso_time(m.group(1))
    except ValueError:
        return None
    pairs = {}
    for key, value in _LOGFMT_PAIR.findall(m.string):
        pairs[key] = value[1:-1].replace('\\"', '"') if value.startswith('"') else value
    level = normal_level(pairs.pop("level", "info"))
    fields = {k: v for k, v in pairs.items() if k not in ("ts", "time")}
    # A line without msg says it all in its pairs (Prometheus's build_context=...).
    message = pairs.get("msg") or " ".join(f"{k}={v}" for k, v in fields.items() if k != "caller")
    fields.pop("msg", None)
    return Parsed(stamp, level, message, fields=fields)


_FORMATS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Parsed | None]], ...] = (
    (_PG, _postgres),
    (_PYTHON, _python),
    (_BRACKETED, _bracketed),
    (_LOGFMT, _logfmt),
    (_REDIS, _redis),
    (_REDIS_SIGNAL, _redis_signal),
    (_ACCESS, _access),
)


def parse_line(line: str) -> Parsed | None:
    """Return what a line says, or None if it has no time of its own (it continues the one before)."""
    if line.startswith("{"):
        return _json(line)
    for pattern, parse in _FORMATS:
        m = pattern.match(line)
        if m is not None:
            return parse(m)
    return None


def line_time(line: str) -> float | None:
    """Return when a line was logged, or None if it continues the line before; cheap for JSON."""
    if line.startswith("{") and (m := _JSON_TIME.search(line)) is not None:
        try:
            return iso_time(m.group(1))
        except ValueError:
            return None
    parsed = parse_line(line)
    return None if parsed is None or parsed.continues else parsed.time
