"""The JSON-lines formatter: one object a line, every field a reader needs, nothing lost."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from opentelemetry import trace

from target_app.instrumentation.direct_lines import DirectLines
from target_app.instrumentation.log_handler import WRITE_MAX_BYTES, JsonLinesHandler, flush_deferred
from target_app.instrumentation.logs import json_handler
from tests.conftest import eventually


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    logger = logging.getLogger("tests.logs")
    logger.addHandler(json_handler(service="worker-1", stream=stream))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.handlers.clear()
    logger.propagate = True


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_has_the_standard_fields_then_the_extra_ones(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    before = time.time()
    logger.info("paid %s cents", 1250, extra={"order_id": 7, "route": None, "ratio": 0.5})
    (line,) = lines(stream)
    assert list(line)[:5] == ["time", "level", "logger", "message", "service"]
    assert line == {
        "time": line["time"],
        "level": "INFO",
        "logger": "tests.logs",
        "message": "paid 1250 cents",
        "service": "worker-1",
        "order_id": 7,
        "route": None,
        "ratio": 0.5,
    }
    assert isinstance(line["time"], str) and line["time"].endswith("Z")
    stamped = datetime.fromisoformat(line["time"]).timestamp()
    assert before - 0.001 <= stamped <= time.time() + 0.001  # to the nearest millisecond


def test_lines_within_one_second_keep_their_own_milliseconds(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    for created in (1_700_000_000.001, 1_700_000_000.999, 1_700_000_001.5):
        record = logger.makeRecord("tests.logs", logging.INFO, __file__, 1, "tick", (), None)
        record.created = created
        logger.handle(record)
    stamps = [line["time"] for line in lines(stream)]
    assert stamps == [
        datetime.fromtimestamp(1_700_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S") + ".001Z",
        datetime.fromtimestamp(1_700_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S") + ".999Z",
        datetime.fromtimestamp(1_700_000_001, UTC).strftime("%Y-%m-%dT%H:%M:%S") + ".500Z",
    ]


def test_an_exception_is_kept_as_text_with_its_traceback(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    try:
        {}["missing"]
    except KeyError:
        logger.exception("lookup failed")
    (line,) = lines(stream)
    assert line["level"] == "ERROR"
    assert isinstance(line["exc_info"], str)
    assert line["exc_info"].startswith("Traceback (most recent call last):")
    assert line["exc_info"].endswith("KeyError: 'missing'")


def test_values_json_cannot_hold_are_written_as_text_not_dropped(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged

    class Opaque:
        def __str__(self) -> str:
            return "opaque thing"

    logger.warning("odd values", extra={"thing": Opaque(), "huge": 2**70, "text": "naïve ✓"})
    (line,) = lines(stream)
    assert (line["thing"], line["huge"], line["text"]) == ("opaque thing", 2**70, "naïve ✓")


ACCESS_FIELDS = {"request_id": "ab12", "method": "GET", "route": "/products", "status": 200}


@pytest.fixture
def unshared() -> tuple[logging.Logger, io.StringIO]:
    """A logger of the test's own, outside logging's tree: pytest's capture handlers
    (which pytest adds to the loggers it knows) would otherwise be a second listener."""
    stream = io.StringIO()
    logger = logging.Logger("tests.direct", logging.INFO)
    logger.addHandler(json_handler(service="shop", stream=stream))
    return logger, stream


def in_a_trace() -> trace.Span:
    """A current span with known ids, unsampled (so trace_sampled shows too)."""
    return trace.NonRecordingSpan(trace.SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=False))


def test_a_direct_line_is_the_line_logging_would_write(
    unshared: tuple[logging.Logger, io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, stream = unshared
    span = in_a_trace()
    with trace.use_span(span):
        logger.info("request", extra=dict(ACCESS_FIELDS))
        with monkeypatch.context() as patched:
            # The direct path builds no record: logging's handle() must not be reached.
            patched.setattr(logger, "handle", lambda record: pytest.fail("went through logging"))
            DirectLines(logger).info("request", dict(ACCESS_FIELDS))
            DirectLines(logger).info("request", dict(ACCESS_FIELDS), span)
    through_logging, direct, direct_with_span = lines(stream)
    assert through_logging["trace_id"] == f"{0xABC:032x}"
    assert through_logging["trace_sampled"] is False
    for line in (direct, direct_with_span):
        assert list(line) == list(through_logging)  # the same fields in the same order
        assert {**line, "time": None} == {**through_logging, "time": None}


def test_a_line_anything_else_would_see_goes_through_logging(
    unshared: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = unshared
    seen: list[logging.LogRecord] = []
    other = logging.Handler()
    other.emit = seen.append  # type: ignore[method-assign]
    logger.addHandler(other)
    DirectLines(logger).info("request", dict(ACCESS_FIELDS))
    assert [record.getMessage() for record in seen] == ["request"]
    assert [line["request_id"] for line in lines(stream)] == ["ab12"]

    logger.removeHandler(other)
    logger.addFilter(lambda record: False)  # a filter that drops every line
    DirectLines(logger).info("request", dict(ACCESS_FIELDS))
    assert len(lines(stream)) == 1


def test_a_direct_line_follows_the_loggers_level(
    unshared: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = unshared
    logger.setLevel(logging.WARNING)
    DirectLines(logger).info("request", dict(ACCESS_FIELDS))
    assert lines(stream) == []


@pytest.fixture
def deferring(unshared: tuple[logging.Logger, io.StringIO]) -> tuple[logging.Logger, io.StringIO]:
    """The unshared logger, its handler deferring access lines as a gunicorn worker's does."""
    logger, stream = unshared
    handler = logger.handlers[0]
    assert isinstance(handler, JsonLinesHandler)
    handler.defer_lines()
    return logger, stream


def test_deferred_access_lines_are_the_same_lines_written_later_in_order(
    deferring: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = deferring
    span = in_a_trace()
    # Nothing in this block yields to gevent's hub (the test process is patched), so the
    # flusher greenlet cannot write the batch early.
    with trace.use_span(span):
        logger.info("request", extra=dict(ACCESS_FIELDS))  # through logging: written now
        before = time.time()
        for n in range(3):
            DirectLines(logger).info("request", {**ACCESS_FIELDS, "request_id": f"r{n}"})
        after = time.time()
        assert len(lines(stream)) == 1  # the access lines wait for the next batch

    flush_deferred()
    through_logging, *deferred = lines(stream)
    assert [line["request_id"] for line in deferred] == ["r0", "r1", "r2"]
    for line in deferred:
        assert list(line) == list(through_logging)  # the same fields in the same order
        assert {**line, "time": None, "request_id": None} == {
            **through_logging,
            "time": None,
            "request_id": None,
        }
        # The time the line was logged, not the time it was written.
        stamp = datetime.fromisoformat(str(line["time"]).replace("Z", "+00:00")).timestamp()
        assert before - 0.001 <= stamp <= after + 0.001
    flush_deferred()
    assert len(lines(stream)) == 4  # nothing written twice


def test_a_line_through_logging_writes_the_queued_access_lines_first(
    deferring: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = deferring
    DirectLines(logger).info("request", dict(ACCESS_FIELDS))
    logger.error("payment failed")
    assert [line["message"] for line in lines(stream)] == ["request", "payment failed"]


def test_deferred_lines_are_written_within_the_flush_interval(
    deferring: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = deferring
    DirectLines(logger).info("request", dict(ACCESS_FIELDS))
    eventually(lambda: len(lines(stream)) == 1, "the flusher to write the access line", 5)


def test_deferred_lines_are_written_when_the_process_exits(tmp_path: Path) -> None:
    """A worker that exits (gunicorn's worker_exit, or atexit) leaves no line unwritten."""
    script = textwrap.dedent(
        """
        import logging
        from target_app.instrumentation.direct_lines import DirectLines
        from target_app.instrumentation.logs import configure_logging
        configure_logging(service="shop", defer_lines=True)
        for n in range(5):
            DirectLines(logging.getLogger("target_app.access")).info("request", {"request_id": n})
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    written = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["request_id"] for line in written] == [0, 1, 2, 3, 4]


def test_a_batch_goes_out_in_writes_a_pipe_keeps_whole(
    deferring: tuple[logging.Logger, io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers share their stderr: no write may exceed PIPE_BUF, and each ends a line."""
    logger, stream = deferring
    writes: list[str] = []
    real_write = stream.write
    monkeypatch.setattr(stream, "write", lambda text: writes.append(text) or real_write(text))
    for n in range(200):
        DirectLines(logger).info(
            "request", {**ACCESS_FIELDS, "request_id": f"r{n}", "note": "é" * n}
        )
    flush_deferred()
    assert len(writes) > 1
    assert all(len(text.encode()) <= WRITE_MAX_BYTES and text.endswith("\n") for text in writes)
    assert [line["request_id"] for line in lines(stream)] == [f"r{n}" for n in range(200)]


def test_an_empty_queue_writes_nothing(deferring: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = deferring
    handler = logger.handlers[0]
    assert isinstance(handler, JsonLinesHandler)
    DirectLines(logger).info("request", dict(ACCESS_FIELDS))
    flush_deferred()
    with handler.lock:  # type: ignore[union-attr]
        handler._write_pending()  # as a thread that found the queue emptied meanwhile
    assert stream.getvalue().count("\n") == 1


def test_logging_flush_writes_the_queued_lines(
    deferring: tuple[logging.Logger, io.StringIO],
) -> None:
    """logging.shutdown() flushes every handler at exit: the queued lines go with it."""
    logger, stream = deferring
    DirectLines(logger).info("request", dict(ACCESS_FIELDS))
    logger.handlers[0].flush()
    assert len(lines(stream)) == 1


def test_a_forked_child_does_not_write_its_parents_queued_lines(tmp_path: Path) -> None:
    """An RQ work horse is a fork: the parent's queued lines are the parent's to write."""
    script = textwrap.dedent(
        """
        import logging, os
        from target_app.instrumentation.direct_lines import DirectLines
        from target_app.instrumentation.log_handler import flush_deferred
        from target_app.instrumentation.logs import configure_logging
        configure_logging(service="worker-1", defer_lines=True)
        access = DirectLines(logging.getLogger("target_app.access"))
        access.info("request", {"request_id": "parent's"})
        child = os.fork()
        if child == 0:
            access.info("request", {"request_id": "child's"})
            flush_deferred()
            os._exit(0)
        os.waitpid(child, 0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    written = [json.loads(line)["request_id"] for line in done.stderr.splitlines()]
    assert sorted(written) == ["child's", "parent's"]  # each line once
