"""Traces and trace-aware logs: real requests, real statements, real workers, real span files."""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import gevent
import pytest
import requests
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind
from redis import Redis
from rq import Queue, Worker
from rq.job import JobStatus
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from chaos.stack.manager import Stack
from chaos.traces import Trace, build_traces, read_spans
from target_app.instrumentation import tracing
from target_app.instrumentation.logs import json_handler
from target_app.instrumentation.span_files import FILE_GLOB, JsonLinesSpanExporter
from tests.conftest import AppFactory, eventually, faultyard, free_port, login_headers


def new_traceparent() -> tuple[str, str, str]:
    """Return a fresh trace id, the caller's span id, and the W3C header carrying both."""
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, parent_id, f"00-{trace_id}-{parent_id}-01"


def find_trace(directory: Path, trace_id: str) -> Trace | None:
    """Return the trace with this id from a folder's span files, if any span of it is there."""
    spans = [s for s in read_spans(sorted(directory.glob(FILE_GLOB))) if s.trace_id == trace_id]
    return build_traces(spans)[0] if spans else None


def flushed_trace(trace_id: str) -> Trace:
    """Flush this process's spans and return the trace with this id."""
    tracing.force_flush()
    directory = tracing.span_files_dir()
    assert directory is not None, "tracing is not writing span files in this process"
    trace = find_trace(directory, trace_id)
    assert trace is not None, f"no span of trace {trace_id} in {directory}"
    return trace


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The shop's JSON log lines of everything logged at INFO or above during the test."""
    stream = io.StringIO()
    handler = json_handler(service="shop", stream=stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_request_is_traced_with_its_statements(
    make_app: AppFactory, new_products: Callable[..., list[int]]
) -> None:
    app = make_app()
    (product_id,) = new_products(5)
    trace_id, caller_id, header = new_traceparent()

    response = app.test_client().get(f"/products/{product_id}", headers={"traceparent": header})
    assert response.status_code == 200

    trace = flushed_trace(trace_id)
    request = trace.root
    assert (request.name, request.kind, request.service) == (
        "GET /products/<int:product_id>",
        "SERVER",
        "shop",
    )
    assert request.parent_id == caller_id  # it continues the caller's trace
    assert request.attributes["http.route"] == "/products/<int:product_id>"
    assert request.attributes["shop.request_id"] == response.headers["X-Request-ID"]
    statements = [c.attributes["db.query.text"] for c in request.children if c.kind == "CLIENT"]
    assert any("FROM products" in s for s in statements), statements
    assert all(c.trace_id == trace_id for c in request.children)


def test_log_lines_of_a_request_carry_its_trace_span_and_request_ids(
    make_app: AppFactory, new_products: Callable[..., list[int]], json_lines: io.StringIO
) -> None:
    app = make_app()
    (product_id,) = new_products(5)
    trace_id, _, header = new_traceparent()

    response = app.test_client().get(f"/products/{product_id}", headers={"traceparent": header})

    access = [line for line in parsed(json_lines) if line.get("trace_id") == trace_id]
    assert [line["message"] for line in access] == ["request"]
    (line,) = access
    assert line["span_id"] == flushed_trace(trace_id).root.span_id
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["route"] == "/products/<int:product_id>"
    assert (line["service"], line["level"]) == ("shop", "INFO")
    assert line["time"]


def test_new_traces_are_rate_limited_and_client_calls_never_start_one() -> None:
    now = [100.0]
    sampler = tracing.EntrySpanSampler(2, clock=lambda: now[0])

    def sampled(kind: SpanKind = SpanKind.SERVER) -> bool:
        return sampler.should_sample(None, 1, "GET /", kind).decision.is_sampled()

    assert [sampled(), sampled(), sampled()] == [True, True, False]  # a second's worth
    now[0] += 0.5
    assert [sampled(), sampled()] == [True, False]  # refilled at 2 a second
    now[0] += 10
    assert not sampled(SpanKind.CLIENT)  # background polling
    assert [sampled(SpanKind.CONSUMER), sampled(), sampled()] == [True, True, False]
    unlimited = tracing.EntrySpanSampler(0)
    assert all(unlimited.should_sample(None, 1, "job", SpanKind.CONSUMER).decision.is_sampled() for _ in range(100))  # fmt: skip


def test_asking_whether_a_trace_would_be_sampled_takes_no_token() -> None:
    now = [100.0]
    sampler = tracing.EntrySpanSampler(2, clock=lambda: now[0])
    assert all(sampler.would_sample() for _ in range(10))
    assert [sampler.should_sample(None, 1, "GET /").decision.is_sampled() for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert not sampler.would_sample()


def test_a_request_past_the_rate_limit_gets_a_trace_id_but_no_span(
    make_app: AppFactory,
    new_products: Callable[..., list[int]],
    json_lines: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app()
    (product_id,) = new_products(1)
    sampler = tracing._entry_sampler
    assert sampler is not None
    monkeypatch.setattr(sampler, "per_s", 1e-9)  # no token now, none for years
    monkeypatch.setattr(sampler, "_tokens", 0.0)

    response = app.test_client().get(f"/products/{product_id}")

    request_id = response.headers["X-Request-ID"]
    (line,) = [line for line in parsed(json_lines) if line.get("request_id") == request_id]
    assert line["trace_sampled"] is False and len(line["trace_id"]) == 32
    tracing.force_flush()
    directory = tracing.span_files_dir()
    assert directory is not None
    assert find_trace(directory, line["trace_id"]) is None


def test_an_unsampled_request_is_not_recorded_but_its_logs_keep_the_trace_id(
    make_app: AppFactory, new_products: Callable[..., list[int]], json_lines: io.StringIO
) -> None:
    app = make_app()
    (product_id,) = new_products(5)
    trace_id, _, header = new_traceparent()
    unsampled = header[:-2] + "00"  # the caller decided not to sample this trace

    app.test_client().get(f"/products/{product_id}", headers={"traceparent": unsampled})

    tracing.force_flush()
    directory = tracing.span_files_dir()
    assert directory is not None
    assert find_trace(directory, trace_id) is None
    (line,) = [line for line in parsed(json_lines) if line.get("trace_id") == trace_id]
    assert (line["message"], line["trace_sampled"]) == ("request", False)


def test_with_tracing_off_nothing_is_traced(
    make_app: AppFactory, new_products: Callable[..., list[int]], json_lines: io.StringIO
) -> None:
    make_app()  # a traced app first, so this process has a tracer provider
    app = make_app(tracing=False)
    (product_id,) = new_products(5)
    trace_id, _, header = new_traceparent()

    response = app.test_client().get(f"/products/{product_id}", headers={"traceparent": header})
    assert response.status_code == 200

    tracing.force_flush()
    directory = tracing.span_files_dir()
    assert directory is not None
    assert find_trace(directory, trace_id) is None
    (line,) = [line for line in parsed(json_lines) if line.get("message") == "request"]
    assert "trace_id" not in line
    assert line["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.slow
def test_a_deadlock_is_logged_and_traced_with_its_sqlstate(
    make_app: AppFactory,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
    json_lines: io.StringIO,
) -> None:
    pairs = 4
    # A pause while holding each lock lets both checkouts of a pair take their first lock.
    app = make_app(checkout_lock_pause_ms=100, pool_size=2 * pairs)
    app.extensions["switches"].set("lock_in_cart_order", True)
    carts = []
    for _ in range(pairs):
        a, b = new_products(100, 100)
        carts += [new_cart((a, 1), (b, 1)), new_cart((b, 1), (a, 1))]

    def checkout(cart_id: int) -> int:
        return app.test_client().post(f"/carts/{cart_id}/checkout").status_code

    jobs = [gevent.spawn(checkout, cart_id) for cart_id in carts]
    gevent.joinall(jobs, raise_error=True)
    assert 503 in [job.value for job in jobs]

    errors = [line for line in parsed(json_lines) if line["message"] == "database error"]
    assert errors
    assert {line["sqlstate"] for line in errors} == {"40P01"}
    assert all(line["level"] == "ERROR" and line["trace_id"] for line in errors)

    trace = flushed_trace(str(errors[0]["trace_id"]))
    assert trace.root.status == "ERROR"
    assert trace.root.error is not None and "DeadlockDetected" in trace.root.error
    failed = [s for s in trace.spans if s.kind == "CLIENT" and s.error]
    assert [s.attributes["db.response.status_code"] for s in failed] == ["40P01"]
    assert failed[0].error is not None
    assert failed[0].error.startswith("DeadlockDetected: deadlock detected")
    assert failed[0].error.endswith("[SQLSTATE 40P01]")


def test_an_error_logged_while_handling_a_database_error_carries_its_sqlstate(
    db: Engine,
) -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.tracing.sqlstate")
    logger.addHandler(json_handler(service="worker-1", stream=stream))
    logger.propagate = False
    try:
        with db.connect() as conn:
            conn.execute(text("SELECT 1 / 0"))
    except DBAPIError:
        logger.error("job failed")  # as RQ logs it: the traceback in the message, no exc_info
        logger.exception("division failed")
    finally:
        logger.handlers.clear()
        logger.propagate = True
    lines = parsed(stream)
    assert [(line["message"], line["sqlstate"]) for line in lines] == [
        ("job failed", "22012"),
        ("division failed", "22012"),
    ]


def test_span_files_rotate_and_the_folder_stays_bounded(tmp_path: Path) -> None:
    max_file, max_dir = 4096, 16384
    exporter = JsonLinesSpanExporter(
        tmp_path, service="bounded", max_file_bytes=max_file, max_dir_bytes=max_dir
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(__name__)
    for n in range(600):
        with tracer.start_as_current_span(f"span {n}", attributes={"padding": "x" * 100}):
            pass
    provider.shutdown()

    files = sorted(tmp_path.glob(FILE_GLOB))
    assert len(files) > 1
    line_bytes = max(len(line) for line in files[-1].read_text().splitlines()) + 1
    assert sum(f.stat().st_size for f in files) <= max_dir + max_file + line_bytes
    names = {s.name for s in read_spans(files)}
    assert "span 599" in names  # the newest spans are kept...
    assert "span 0" not in names  # ...and the oldest pruned


@pytest.mark.slow
def test_a_checkout_and_the_payment_job_it_causes_share_one_trace(
    stack: Stack,
    cli_env: dict[str, str],
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    (product_id,) = new_products(5)
    cart_id = new_cart((product_id, 1))
    trace_id, _, header = new_traceparent()

    placed = requests.post(
        f"{stack.settings.app_url}/carts/{cart_id}/checkout",
        headers={"traceparent": header, **login_headers(stack.settings.app_url)},
        timeout=10,
    )
    assert placed.status_code == 201

    directory = stack.settings.state_path / "traces"

    def with_job() -> Trace | None:
        # Each process exports on its own schedule: wait for the request, relay and job spans.
        trace = find_trace(directory, trace_id)
        names = {s.name for s in trace.spans} if trace else set()
        wanted = {"POST /carts/<int:cart_id>/checkout", "relay order.placed", "job capture_payment"}
        return trace if wanted <= names else None

    trace = eventually(with_job, "the request's, relay's and payment job's spans in one trace")
    assert isinstance(trace, Trace)
    by_id = {s.span_id: s for s in trace.spans}
    request = trace.root
    assert (request.name, request.service) == ("POST /carts/<int:cart_id>/checkout", "shop")
    job = next(s for s in trace.spans if s.name == "job capture_payment")
    assert job.kind == "CONSUMER" and job.service.startswith("worker-")
    relay = by_id[str(job.parent_id)]
    assert (relay.name, relay.kind, relay.service) == ("relay order.placed", "PRODUCER", "relay")
    assert relay.parent_id == request.span_id
    statements = [str(c.attributes.get("db.query.text", "")) for c in job.children]
    assert any(s.startswith("UPDATE orders") for s in statements), statements

    # The trace id finds the request's and the job's log lines.
    result = faultyard(cli_env, "logs", "--grep", trace_id)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert {line["trace_id"] for line in lines} == {trace_id}
    messages = {(line["service"], line["message"]) for line in lines}
    assert ("shop", "request") in messages
    assert (job.service, "payment captured") in messages


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["quick", "graceful"])
def test_gunicorn_workers_export_their_spans_when_stopped(
    stack: Stack, tmp_path: Path, stop: signal.Signals
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "FAULTYARD_DATABASE_URL": stack.settings.database_url,
        "FAULTYARD_REDIS_URL": stack.settings.redis_url,
        "FAULTYARD_STATE_DIR": str(tmp_path),
        # Nothing is exported on schedule: only the shutdown can write the span.
        "FAULTYARD_TRACING_FLUSH_INTERVAL_MS": "600000",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn",
                "--config", "python:target_app.gunicorn_conf",
                "--bind", f"127.0.0.1:{port}",
                "--workers", "1",
                "target_app.wsgi:app",
            ],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.poll() is None, log.read_text()
            try:
                return requests.get(f"{base}/healthz", timeout=2).status_code == 200
            except requests.RequestException:  # not listening yet, or still loading the app
                return False

        eventually(up, "gunicorn to answer")
        trace_id, _, header = new_traceparent()
        assert requests.get(f"{base}/products", headers={"traceparent": header}, timeout=10).ok
        assert find_trace(tmp_path / "traces", trace_id) is None

        proc.send_signal(stop)
        assert proc.wait(timeout=20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    trace = find_trace(tmp_path / "traces", trace_id)
    assert trace is not None, log.read_text()
    assert trace.root.name == "GET /products"


@pytest.mark.slow
def test_an_rq_worker_continues_the_enqueuers_trace_and_exports_it_when_stopped(
    stack: Stack, tmp_path: Path
) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "FAULTYARD_REDIS_URL": stack.settings.redis_url,
        "FAULTYARD_PAYMENT_QUEUE": name,
        "FAULTYARD_STATE_DIR": str(tmp_path),
        "FAULTYARD_TRACING_FLUSH_INTERVAL_MS": "600000",
    }
    log = tmp_path / "worker.log"
    redis = Redis.from_url(stack.settings.redis_url)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "target_app.worker", f"faultyard-{name}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        eventually(
            lambda: any(w.name == f"faultyard-{name}" for w in Worker.all(connection=redis)),
            "the worker to register",
        )
        trace_id, enqueuer_id, header = new_traceparent()
        job = Queue(name, connection=redis).enqueue(
            "target_app.jobs.switch_states", meta={"traceparent": header}
        )
        deadline = time.monotonic() + 20
        while job.get_status(refresh=True) != JobStatus.FINISHED:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        redis.close()
    trace = find_trace(tmp_path / "traces", trace_id)
    assert trace is not None, log.read_text()
    span = trace.root
    assert (span.name, span.kind, span.service) == ("job switch_states", "CONSUMER", name)
    assert span.parent_id == enqueuer_id
    assert span.attributes["messaging.message.id"] == job.id


def test_library_instrumentation_traces_requests_and_statements(
    make_app: AppFactory, new_products: Callable[..., list[int]]
) -> None:
    """FAULTYARD_TRACING_LIBRARY_INSTRUMENTATION: spans from OTel's Flask and SQLAlchemy packages."""
    app = make_app(tracing_library_instrumentation=True)
    (product_id,) = new_products(5)
    trace_id, caller_id, header = new_traceparent()

    response = app.test_client().get(f"/products/{product_id}", headers={"traceparent": header})
    assert response.status_code == 200

    request = flushed_trace(trace_id).root
    assert (request.kind, request.parent_id) == ("SERVER", caller_id)
    assert request.attributes["http.route"] == "/products/<int:product_id>"
    statements = [c for c in request.children if c.kind == "CLIENT"]
    assert statements, "the SQLAlchemy instrumentation made no statement span"
    assert any("products" in str(c.attributes.get("db.statement", "")) for c in statements)


def test_instrumentation_off_measures_nothing(
    make_app: AppFactory, new_products: Callable[..., list[int]], json_lines: io.StringIO
) -> None:
    """FAULTYARD_INSTRUMENTATION=false (make bench-overhead's baseline): no metric, log or span."""
    from prometheus_client import REGISTRY

    app = make_app(instrumentation=False)
    assert app.extensions["settings"].tracing is False
    (product_id,) = new_products(5)
    route = "/products/<int:product_id>"
    labels = {"method": "GET", "route": route, "status": "200"}

    def requests_counted() -> float:
        return REGISTRY.get_sample_value("shop_http_requests_total", labels) or 0.0

    def statements_counted() -> float:
        return (
            REGISTRY.get_sample_value(
                "shop_db_statement_duration_seconds_count", {"operation": "SELECT"}
            )
            or 0.0
        )

    before = (requests_counted(), statements_counted())
    trace_id, _, header = new_traceparent()
    response = app.test_client().get(f"/products/{product_id}", headers={"traceparent": header})

    assert response.status_code == 200
    assert (requests_counted(), statements_counted()) == before
    assert [line for line in parsed(json_lines) if line.get("route") == route] == []
    tracing.force_flush()
    directory = tracing.span_files_dir()
    assert directory is None or find_trace(directory, trace_id) is None

    on = make_app()  # the same request, instrumented, is counted: the check above can fail
    on.test_client().get(f"/products/{product_id}")
    assert requests_counted() == before[0] + 1


def test_a_stream_whose_client_left_is_not_an_error(make_app: AppFactory) -> None:
    client = make_app().test_client()
    trace_id, _, header = new_traceparent()

    response = client.get("/stream/stock", headers={"traceparent": header}, buffered=False)
    assert next(response.iter_encoded()).startswith(b": connected\n")
    response.close()  # what the server does when the client disconnects: GeneratorExit

    request = flushed_trace(trace_id).root
    assert request.name == "GET /stream/stock"
    assert request.status != "ERROR", request.status_message
    assert request.attributes["shop.client_disconnected"] is True
