"""A span exporter writing JSON lines into the state folder, so traces can be read with no Jaeger.

Each process writes files of its own (`spans-SERVICE-PID.jsonl`, then `.1`, `.2`...
once a file reaches its size cap), so lines from several processes never
interleave. The folder is bounded: past its cap the oldest files are deleted.
`chaos.traces` reads these files back.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger(__name__)

FILE_GLOB = "spans-*.jsonl"

_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def span_record(span: ReadableSpan, service: str) -> dict[str, Any]:
    """Return one span as the JSON object written on its line."""
    # Every property of a ReadableSpan is a call (some copy): each is read once.
    ctx = span.context
    status = span.status
    parent = span.parent
    attributes = span.attributes
    events = span.events
    record: dict[str, Any] = {
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{parent.span_id:016x}" if parent else None,
        "name": span.name,
        "kind": span.kind._name_,  # an Enum's .name is a descriptor call
        "service": service,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": status.status_code._name_,
    }
    if status.description:
        record["status_message"] = status.description
    if attributes:
        record["attributes"] = dict(attributes)
    if events:
        record["events"] = [
            {"name": e.name, "time_ns": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in events
        ]
    return record


class JsonLinesSpanExporter(SpanExporter):
    """Append spans as JSON lines to this process's own file under `directory`."""

    def __init__(
        self, directory: Path, *, service: str, max_file_bytes: int, max_dir_bytes: int
    ) -> None:
        self.directory = directory
        self.service = service
        self.max_file_bytes = max_file_bytes
        self.max_dir_bytes = max_dir_bytes
        self._pid = os.getpid()
        self._sequence = 0
        self._file: IO[str] | None = None
        self._closed = False

    @property
    def path(self) -> Path:
        """Return the file this process writes now."""
        suffix = f".{self._sequence}" if self._sequence else ""
        return self.directory / f"spans-{self.service}-{self._pid}{suffix}.jsonl"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write one line per span; rotate and prune once the file is past its cap."""
        if self._closed:
            return SpanExportResult.FAILURE
        encode = _ENCODER.encode
        lines = "".join(encode(span_record(s, self.service)) + "\n" for s in spans)
        try:
            out = self._open()
            out.write(lines)
            out.flush()
            if out.tell() >= self.max_file_bytes:
                self._rotate()
        except OSError as exc:
            log.warning("cannot write spans", extra={"path": str(self.path), "error": str(exc)})
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Close the file; later exports fail."""
        self._closed = True
        if self._file is not None:
            self._file.close()
            self._file = None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Every export already reaches the file."""
        return True

    def _open(self) -> IO[str]:
        if self._pid != os.getpid():  # a forked child writes files of its own
            self._pid, self._sequence, self._file = os.getpid(), 0, None
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            prune(self.directory, self.max_dir_bytes)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
        return self._file

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        self._file = None
        self._sequence += 1


def prune(directory: Path, max_bytes: int) -> list[Path]:
    """Delete the oldest span files until the folder holds at most `max_bytes`; return them."""
    files = []
    for path in directory.glob(FILE_GLOB):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue  # another process pruned it
        files.append((stat.st_mtime, stat.st_size, path))
    files.sort()
    total = sum(size for _, size, _ in files)
    deleted = []
    for _, size, path in files:
        if total <= max_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size
        deleted.append(path)
    return deleted
