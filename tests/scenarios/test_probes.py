"""Probe evaluation against the session stack's real Prometheus, PostgreSQL and shop."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chaos.scenarios.model import HTTPProbe, PromQLProbe, SQLProbe
from chaos.scenarios.probes import Prober
from chaos.settings import load_stack_settings
from chaos.stack.manager import Stack
from tests.conftest import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def prober(stack: Stack) -> Iterator[Prober]:
    prober = Prober(stack.settings)
    # A Prometheus started moments ago (this file run alone) may not have scraped yet.
    self_scraped = promql('sum(up{job="prometheus"})', "==", 1)
    eventually(lambda: prober.evaluate(self_scraped).holds, "Prometheus to scrape itself")
    yield prober
    prober.close()


def promql(expr: str, comparator: str, threshold: float) -> PromQLProbe:
    return PromQLProbe(
        name="p", description="d", expr=expr, comparator=comparator, threshold=threshold
    )


@pytest.mark.parametrize(
    ("expr", "comparator", "threshold", "holds"),
    [
        ("vector(2)", ">", 1, True),
        ("vector(2)", ">", 2, False),
        ("vector(2)", ">=", 2, True),
        ("vector(2)", "<", 2, False),
        ("vector(2)", "<=", 2, True),
        ("vector(0)", "==", 0, True),
        ("vector(0)", "!=", 0, False),
        # A real series: Prometheus scrapes itself.
        ('sum(up{job="prometheus"})', "==", 1, True),
    ],
)
def test_promql_comparators(
    prober: Prober, expr: str, comparator: str, threshold: float, holds: bool
) -> None:
    result = prober.evaluate(promql(expr, comparator, threshold))
    assert result.error is None
    assert result.value is not None
    assert result.holds is holds


def test_promql_without_series_is_no_data_and_never_holds(prober: Prober) -> None:
    for comparator in ("==", "!=", "<", ">"):
        result = prober.evaluate(promql('sum(up{job="no-such-job"})', comparator, 0))
        assert (result.value, result.holds, result.error) == (None, False, "no data")
        assert result.no_data  # the query answered: nothing to see is not a failure to look


def test_or_vector_zero_turns_no_series_into_zero(prober: Prober) -> None:
    result = prober.evaluate(promql('sum(up{job="no-such-job"}) or vector(0)', "==", 0))
    assert (result.value, result.holds, result.error) == (0.0, True, None)


def test_nan_never_holds(prober: Prober) -> None:
    result = prober.evaluate(promql("vector(0) / 0", "!=", 1))
    assert result.value is not None and math.isnan(result.value)
    assert not result.holds
    assert result.error is not None and "NaN" in result.error
    assert result.no_data


def test_several_series_are_an_error_asking_for_an_aggregate(prober: Prober) -> None:
    result = prober.evaluate(promql("up", ">=", 0))
    assert not result.holds
    assert result.error is not None and "aggregate" in result.error
    assert not result.no_data


def test_a_query_prometheus_refuses_is_an_error_reading(prober: Prober) -> None:
    result = prober.evaluate(promql("rate(up[5x])", ">", 0))
    assert (result.value, result.holds) == (None, False)
    assert result.error is not None and "refused" in result.error


def test_sql_probe_reads_the_first_column_of_the_first_row(prober: Prober) -> None:
    probe = SQLProbe(
        name="s",
        description="d",
        sql="SELECT count(*) FROM products WHERE id <= 3",
        comparator="==",
        threshold=3,
    )
    result = prober.evaluate(probe)
    assert (result.value, result.holds, result.error) == (3.0, True, None)


def test_sql_null_is_no_data(prober: Prober) -> None:
    probe = SQLProbe(name="s", description="d", sql="SELECT NULL", comparator="!=", threshold=1)
    result = prober.evaluate(probe)
    assert (result.value, result.holds, result.error) == (None, False, "no data")


def test_sql_probe_runs_read_only(prober: Prober) -> None:
    # A SELECT with a side effect is refused by the read-only transaction.
    probe = SQLProbe(
        name="s",
        description="d",
        sql="SELECT nextval('products_id_seq')",
        comparator=">",
        threshold=0,
    )
    result = prober.evaluate(probe)
    assert not result.holds
    assert result.error is not None and "read-only" in result.error
    # The connection is opened afresh for the next probe.
    ok = SQLProbe(name="s", description="d", sql="SELECT 1", comparator="==", threshold=1)
    assert prober.evaluate(ok).holds


def test_http_probe_checks_status_and_latency(prober: Prober) -> None:
    live = prober.evaluate(HTTPProbe(name="h", description="d", path="/healthz"))
    assert (live.value, live.holds) == (200.0, True)
    assert live.detail is not None and live.detail.startswith("200 in ")
    wrong = prober.evaluate(
        HTTPProbe(name="h", description="d", path="/healthz", expect_status=503)
    )
    assert (wrong.value, wrong.holds, wrong.error) == (200.0, False, None)
    missing = prober.evaluate(
        HTTPProbe(name="h", description="d", path="/no-such-page", expect_status=404)
    )
    assert missing.holds
    too_fast = HTTPProbe(name="h", description="d", path="/healthz", max_latency_s=1e-6)
    assert not prober.evaluate(too_fast).holds


class _KeepAliveHandler(BaseHTTPRequestHandler):
    """Answers 200 and keeps the connection open; records which client port asked."""

    protocol_version = "HTTP/1.1"
    ports: list[int] = []  # noqa: RUF012 (one test's record)

    def do_GET(self) -> None:
        self.ports.append(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_each_http_probe_opens_a_new_connection(tmp_path: Path) -> None:
    """A kept-alive connection would stay with one shop process and miss the others."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAliveHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = load_stack_settings(state_dir=tmp_path, proxy_shop_port=server.server_address[1])
    prober = Prober(settings)
    try:
        probe = HTTPProbe(name="h", description="d", path="/readyz")
        assert all(prober.evaluate(probe).holds for _ in range(3))
    finally:
        prober.close()
        server.shutdown()
        server.server_close()
    assert len(_KeepAliveHandler.ports) == 3
    assert len(set(_KeepAliveHandler.ports)) == 3, "every probe came on a connection of its own"
