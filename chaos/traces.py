"""Read the shop's span files back into traces: span trees with durations, errors and key attributes.

The shop writes one JSON object per span (target_app.instrumentation.span_files) into
STATE/traces; a trace's spans come from several processes (the request, the
relay, the worker that ran its job), so they are grouped by trace id here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from chaos.errors import FaultyardError

FILE_GLOB = "spans-*.jsonl"
SQLSTATE_ATTRIBUTE = "db.response.status_code"
ROUTE_ATTRIBUTES = ("http.route",)
#: Routes that stream for as long as the client listens.
STREAM_ROUTE_PREFIX = "/stream/"
STATUS_ATTRIBUTES = ("http.response.status_code", "http.status_code")
STATEMENT_ATTRIBUTES = ("db.query.text", "db.statement")
STATEMENT_MAX_CHARS = 100


class NoTracesError(FaultyardError):
    """There are no span files to read."""


@dataclass
class Span:
    """One span as the exporter wrote it, with its children once the tree is built."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    service: str
    start_ns: int
    end_ns: int
    status: str = "UNSET"
    status_message: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    children: list[Span] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        """Return how long the span lasted."""
        return (self.end_ns - self.start_ns) / 1e6

    def attribute(self, *names: str) -> Any:
        """Return the first of these attributes the span has (semantic conventions renamed some)."""
        for name in names:
            if name in self.attributes:
                return self.attributes[name]
        return None

    @property
    def error(self) -> str | None:
        """Return what went wrong: the exception's type and message, and its SQLSTATE."""
        exceptions = [e for e in self.events if e.get("name") == "exception"]
        if not exceptions and self.status != "ERROR":
            return None
        if exceptions:
            attrs = exceptions[-1].get("attributes", {})
            kind = str(attrs.get("exception.type", "error")).rsplit(".", 1)[-1]
            message = " ".join(str(attrs.get("exception.message", "")).split())
            text = f"{kind}: {message}" if message else kind
        else:
            text = self.status_message or "error"
        code = self.attributes.get(SQLSTATE_ATTRIBUTE)
        return f"{text} [SQLSTATE {code}]" if code else text

    @property
    def label(self) -> str:
        """Return what the span did, in a few words: the statement, the route, the command."""
        statement = self.attribute(*STATEMENT_ATTRIBUTES)
        system = self.attributes.get("db.system") or self.attributes.get("db.system.name")
        if statement and system != "redis":
            return shorten_sql(str(statement))
        if system == "redis":
            return f"redis {self.name}"
        status = self.attribute(*STATUS_ATTRIBUTES)
        return (
            f"{self.name} -> {status}"
            if status is not None and self.kind == "SERVER"
            else self.name
        )


@dataclass
class Trace:
    """The spans of one trace id, as a forest (spans whose parent is missing are roots)."""

    trace_id: str
    spans: list[Span]
    roots: list[Span]

    @property
    def root(self) -> Span:
        """Return the span that started the trace (the earliest root)."""
        return self.roots[0]

    @property
    def duration_ms(self) -> float:
        """Return the whole trace's extent, from the first start to the last end."""
        return (max(s.end_ns for s in self.spans) - min(s.start_ns for s in self.spans)) / 1e6

    @property
    def start_ns(self) -> int:
        """Return when the trace's first span started."""
        return min(s.start_ns for s in self.spans)

    @property
    def end_ns(self) -> int:
        """Return when the trace's last span ended."""
        return max(s.end_ns for s in self.spans)

    @property
    def services(self) -> list[str]:
        """Return the services the trace crossed, in order of first appearance."""
        return list(dict.fromkeys(s.service for s in sorted(self.spans, key=lambda s: s.start_ns)))

    @property
    def has_error(self) -> bool:
        """Tell whether any span of the trace failed."""
        return any(s.error for s in self.spans)

    def routes(self) -> set[str]:
        """Return the HTTP routes of the trace's server spans."""
        return {str(r) for s in self.spans if (r := s.attribute(*ROUTE_ATTRIBUTES))}


# A bound parameter as SQLAlchemy renders it for psycopg, with its cast: %(pk_1)s::INTEGER.
_PLACEHOLDER = re.compile(r"%\(\w+\)s(?:::[A-Z]+(?: WITH(?:OUT)? TIME ZONE)?(?:\[\])?)?")


def shorten_sql(statement: str) -> str:
    """Return a statement on one line, column lists elided, cut to a readable length."""
    text = " ".join(statement.split())
    text = _PLACEHOLDER.sub("?", text)
    text = re.sub(r"^SELECT (.+?) FROM ", "SELECT … FROM ", text, count=1, flags=re.IGNORECASE)
    text = re.sub(r"\(([^()]{30,})\)", "(…)", text)
    if len(text) > STATEMENT_MAX_CHARS:
        text = text[: STATEMENT_MAX_CHARS - 1] + "…"
    return text


def span_files(directory: Path) -> list[Path]:
    """Return the span files of a state folder's traces directory (NoTracesError if none)."""
    files = sorted(directory.glob(FILE_GLOB)) if directory.is_dir() else []
    if not files:
        raise NoTracesError(
            f"no trace files in {directory}: the stack has not served anything yet, "
            "tracing is off (FAULTYARD_TRACING=false), or spans go to an OTLP endpoint "
            "(OTEL_EXPORTER_OTLP_ENDPOINT)"
        )
    return files


def read_spans(
    files: Iterable[Path], *, since_ns: int | None = None, containing: str | None = None
) -> Iterator[Span]:
    """Yield the spans of these files that ended at or after `since_ns`; skip torn lines.

    `containing` skips, before parsing them, the lines without that text (a trace id).
    """
    for path in files:
        if since_ns is not None and path.stat().st_mtime_ns < since_ns:
            continue  # nothing in it ended that late
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if containing is not None and containing not in line:
                    continue
                try:
                    record = json.loads(line)
                    span = Span(**{k: v for k, v in record.items() if k in _SPAN_FIELDS})
                except (ValueError, TypeError):
                    continue  # a line cut short by a killed process
                if since_ns is None or span.end_ns >= since_ns:
                    yield span


_SPAN_FIELDS = frozenset(Span.__dataclass_fields__) - {"children"}


def build_traces(spans: Iterable[Span]) -> list[Trace]:
    """Group spans by trace id and link each to its parent; children sorted by start."""
    by_trace: dict[str, list[Span]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    traces = []
    for trace_id, members in by_trace.items():
        members.sort(key=lambda s: s.start_ns)
        by_id = {s.span_id: s for s in members}
        roots = []
        for span in members:
            parent = by_id.get(span.parent_id) if span.parent_id else None
            if parent is None:
                roots.append(span)
            else:
                parent.children.append(span)
        traces.append(Trace(trace_id, members, roots))
    return traces


def select_traces(
    traces: Iterable[Trace],
    *,
    route: str | None = None,
    errors_only: bool = False,
    slowest: int = 10,
    by: str = "root",
) -> list[Trace]:
    """Return the slowest traces matching the filters, by the root span's or the whole duration.

    Streams (SSE) last as long as their client stays: they are left out unless
    `route` names them, or they would be the slowest traces of every run.
    """
    chosen = [
        t
        for t in traces
        if (
            any(route in r for r in t.routes()) or route in t.root.name
            if route is not None
            else not any(r.startswith(STREAM_ROUTE_PREFIX) for r in t.routes())
        )
        and (not errors_only or t.has_error)
    ]

    def duration(t: Trace) -> float:
        return t.duration_ms if by == "trace" else t.root.duration_ms

    return sorted(chosen, key=duration, reverse=True)[:slowest]


def load_traces(directory: Path, *, since_ns: int | None = None) -> list[Trace]:
    """Read every span file of a traces folder and return its traces."""
    return build_traces(read_spans(span_files(directory), since_ns=since_ns))


def as_json(trace: Trace) -> dict[str, Any]:
    """Return a trace as JSON: a summary and its span tree (`faultyard traces --json`, the console)."""

    def node(span: Span) -> dict[str, Any]:
        return {
            "span_id": span.span_id,
            "name": span.name,
            "label": span.label,
            "service": span.service,
            "kind": span.kind,
            "offset_ms": round((span.start_ns - trace.start_ns) / 1e6, 3),
            "duration_ms": round(span.duration_ms, 3),
            "status": span.status,
            "error": span.error,
            "attributes": span.attributes,
            "children": [node(c) for c in span.children],
        }

    return {
        "trace_id": trace.trace_id,
        "root": trace.root.label,
        "root_duration_ms": round(trace.root.duration_ms, 3),
        "duration_ms": round(trace.duration_ms, 3),
        "start": datetime.fromtimestamp(trace.start_ns / 1e9).isoformat(),
        "services": trace.services,
        "error": trace.has_error,
        "spans": [node(r) for r in trace.roots],
    }
