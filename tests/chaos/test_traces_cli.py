"""`faultyard traces`: span files written by the shop's exporter, read back as trees."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from opentelemetry import trace
from opentelemetry.sdk.trace import Span, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from chaos.stack.manager import Stack
from target_app.instrumentation.span_files import JsonLinesSpanExporter
from tests.conftest import eventually, faultyard, login_headers

MS = 1_000_000


class ShopSpans:
    """Spans written by the shop's exporter, with start times and durations chosen by the test."""

    def __init__(self, state: Path) -> None:
        exporter = JsonLinesSpanExporter(
            state / "traces", service="shop", max_file_bytes=1 << 20, max_dir_bytes=1 << 24
        )
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer(__name__)
        self.now = time.time_ns()

    def request(self, route: str, *, ago_ms: float, took_ms: float, method: str = "GET") -> Span:
        """Start a server span (ended by `end`)."""
        return self._start(
            f"{method} {route}",
            SpanKind.SERVER,
            {"http.route": route, "http.status_code": 200},
            ago_ms,
            took_ms,
        )

    def statement(self, parent: Span, sql: str, *, ago_ms: float, took_ms: float) -> Span:
        """Start a statement span under `parent`."""
        return self._start(
            "SELECT shop",
            SpanKind.CLIENT,
            {"db.system.name": "postgresql", "db.query.text": sql},
            ago_ms,
            took_ms,
            parent,
        )

    def _start(
        self,
        name: str,
        kind: SpanKind,
        attributes: dict[str, Any],
        ago_ms: float,
        took_ms: float,
        parent: Span | None = None,
    ) -> Span:
        start = self.now - int(ago_ms * MS)
        context = trace.set_span_in_context(parent) if parent else None
        span = self.tracer.start_span(
            name, context=context, kind=kind, attributes=attributes, start_time=start
        )
        span.planned_end = start + int(took_ms * MS)  # type: ignore[attr-defined]
        return span  # type: ignore[return-value]

    @staticmethod
    def end(*spans: Span) -> None:
        """End the spans at their planned times, in the order given (children first)."""
        for span in spans:
            span.end(end_time=span.planned_end)  # type: ignore[attr-defined]

    @staticmethod
    def trace_id(span: Span) -> str:
        return f"{span.get_span_context().trace_id:032x}"


@pytest.fixture
def shop_state(tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """A state folder holding four traces; return the CLI's environment and the trace ids."""
    spans = ShopSpans(tmp_path)
    fast = spans.request("/products", ago_ms=100, took_ms=5)
    spans.end(
        spans.statement(fast, "SELECT products.id FROM products LIMIT 20", ago_ms=99, took_ms=2),
        fast,
    )
    # Order history with N+1 queries: the slowest request.
    history = spans.request("/users/<int:user_id>/orders", ago_ms=900, took_ms=800)
    queries = [
        spans.statement(
            history,
            f"SELECT order_items.id FROM order_items WHERE order_items.order_id = %(id_{n})s::INTEGER",
            ago_ms=890 - 30 * n,
            took_ms=25,
        )
        for n in range(20)
    ]
    spans.end(*queries, history)
    # A checkout that deadlocked.
    checkout = spans.request(
        "/carts/<int:cart_id>/checkout", ago_ms=700, took_ms=300, method="POST"
    )
    locked = spans.statement(
        checkout,
        "SELECT products.id FROM products WHERE id = 7 FOR UPDATE",
        ago_ms=650,
        took_ms=240,
    )
    locked.record_exception(psycopg.errors.DeadlockDetected("deadlock detected"))
    locked.set_attribute("db.response.status_code", "40P01")
    locked.set_status(Status(StatusCode.ERROR, "deadlock detected"))
    checkout.set_status(Status(StatusCode.ERROR))
    spans.end(locked, checkout)
    # A slow request two hours ago.
    old = spans.request("/products/<int:product_id>", ago_ms=2 * 3600 * 1000, took_ms=2000)
    spans.end(old)
    # A stock stream a shopper listened to for 5 s: the longest span, but not a slow request.
    stream = spans.request("/stream/stock", ago_ms=5100, took_ms=5000)
    spans.end(stream)
    spans.provider.shutdown()
    # A line cut short by a process killed mid-write is skipped.
    with open(next((tmp_path / "traces").glob("spans-*.jsonl")), "a") as f:
        f.write('{"trace_id": "abc", "span_')
    ids = {
        "fast": spans.trace_id(fast),
        "history": spans.trace_id(history),
        "checkout": spans.trace_id(checkout),
        "old": spans.trace_id(old),
        "stream": spans.trace_id(stream),
    }
    return {**os.environ, "FAULTYARD_STATE_DIR": str(tmp_path)}, ids


Traces = tuple[dict[str, str], dict[str, str]]


def span_names(trace_json: dict[str, Any]) -> set[str]:
    """The names of every span in a trace from `faultyard traces --json`."""
    names: set[str] = set()
    pending = list(trace_json["spans"])
    while pending:
        span = pending.pop()
        names.add(span["name"])
        pending.extend(span["children"])
    return names


def headers(output: str) -> list[str]:
    return [line.split()[1] for line in output.splitlines() if line.startswith("trace ")]


def test_slowest_traces_print_as_trees_slowest_first(shop_state: Traces) -> None:
    env, ids = shop_state
    result = faultyard(env, "traces", "--slowest", "3")
    assert result.returncode == 0, result.stderr
    assert headers(result.stdout) == [ids["old"], ids["history"], ids["checkout"]]
    lines = result.stdout.splitlines()
    history = lines.index(next(line for line in lines if ids["history"] in line))
    assert "800.0 ms  GET /users/<int:user_id>/orders -> 200" in lines[history]
    assert lines[history + 1].split() == ["START", "ms", "TOOK", "ms", "SPAN"]
    assert lines[history + 2].split()[:3] == ["+0.0", "800.0", "GET"]
    # The N+1 loop: the first query, then one line for the 19 like it.
    first = lines[history + 3]
    assert first.split()[:3] == ["+10.0", "25.0", "├─"]
    assert "SELECT … FROM order_items WHERE order_items.order_id = ?" in first
    # The loop's other 19 queries on one line: when the first of them began, their total time.
    assert lines[history + 4].split() == ["+40.0", "475.0", "└─", "…", "19", "more", "like", "this"]


def test_errors_shows_failed_traces_with_the_exception_and_sqlstate(shop_state: Traces) -> None:
    env, ids = shop_state
    result = faultyard(env, "traces", "--errors")
    assert result.returncode == 0, result.stderr
    assert headers(result.stdout) == [ids["checkout"]]
    failed = next(line for line in result.stdout.splitlines() if "FOR UPDATE" in line)
    assert failed.endswith("ERROR DeadlockDetected: deadlock detected [SQLSTATE 40P01]")


def test_route_and_since_filter_the_traces(shop_state: Traces) -> None:
    env, ids = shop_state
    by_route = faultyard(env, "traces", "--route", "orders")
    assert headers(by_route.stdout) == [ids["history"]]
    recent = faultyard(env, "traces", "--since", "1m")
    assert headers(recent.stdout) == [ids["history"], ids["checkout"], ids["fast"]]
    assert headers(faultyard(env, "traces", "--since", "3h").stdout)[0] == ids["old"]
    nothing = faultyard(env, "traces", "--route", "no-such-route")
    assert nothing.returncode == 0
    assert nothing.stdout.startswith("no trace matches (5 traces read from")
    bad = faultyard(env, "traces", "--since", "soon")
    assert bad.returncode == 2
    assert "not a duration" in bad.stderr


def test_json_output_holds_the_span_tree(shop_state: Traces) -> None:
    env, ids = shop_state
    result = faultyard(env, "traces", "--json", "--route", "checkout")
    assert result.returncode == 0, result.stderr
    (checkout,) = json.loads(result.stdout)
    assert checkout["trace_id"] == ids["checkout"]
    assert (checkout["root_duration_ms"], checkout["error"]) == (300.0, True)
    (request,) = checkout["spans"]
    assert (request["name"], request["kind"], request["service"]) == (
        "POST /carts/<int:cart_id>/checkout",
        "SERVER",
        "shop",
    )
    (locked,) = request["children"]
    assert locked["offset_ms"] == 50.0
    assert locked["attributes"]["db.response.status_code"] == "40P01"
    assert locked["error"] == "DeadlockDetected: deadlock detected [SQLSTATE 40P01]"


def test_streams_are_ranked_only_when_asked_for(shop_state: Traces) -> None:
    env, ids = shop_state
    ranked = faultyard(env, "traces", "--slowest", "10")
    assert ranked.returncode == 0, ranked.stderr
    assert ids["stream"] not in headers(ranked.stdout)
    streams = faultyard(env, "traces", "--route", "/stream/")
    assert headers(streams.stdout) == [ids["stream"]]


def test_no_trace_files_is_a_clear_error(tmp_path: Path) -> None:
    result = faultyard({**os.environ, "FAULTYARD_STATE_DIR": str(tmp_path)}, "traces")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: no trace files in {tmp_path}/traces")
    assert "FAULTYARD_TRACING=false" in result.stderr


@pytest.mark.slow
def test_traces_of_the_running_stack_show_requests_with_their_jobs(
    stack: Stack,
    cli_env: dict[str, str],
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    (product_id,) = new_products(5)
    trace_id = secrets.token_hex(16)
    placed = requests.post(
        f"{stack.settings.app_url}/carts/{new_cart((product_id, 1))}/checkout",
        headers={
            "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
            **login_headers(stack.settings.app_url),
        },
        timeout=10,
    )
    assert placed.status_code == 201

    def listed() -> dict[str, Any] | None:
        result = faultyard(cli_env, "traces", "--json", "--slowest", "1000", "--since", "1m")
        found = [t for t in json.loads(result.stdout or "[]") if t["trace_id"] == trace_id]
        services = " ".join(found[0]["services"]) if found else ""
        # Each process exports on its own schedule: wait for the shop's, the relay's and the
        # job's own span. A span ends after its children, so the worker's Redis calls inside
        # the job can be exported a batch before the job span that encloses them.
        complete = all(name in services for name in ("shop", "relay", "worker-"))
        return found[0] if complete and "job capture_payment" in span_names(found[0]) else None

    found = eventually(listed, "the checkout's trace to reach its payment job", timeout_s=30)
    assert isinstance(found, dict)
    assert found["services"][:2] == ["shop", "relay"]

    result = faultyard(
        cli_env, "traces", "--slowest", "3", "--route", "checkout", "--by", "trace", "--since", "1m"
    )
    assert result.returncode == 0, result.stderr
    assert 1 <= len(headers(result.stdout)) <= 3
    assert "└─ " in result.stdout
    assert "job capture_payment  (worker-" in result.stdout
