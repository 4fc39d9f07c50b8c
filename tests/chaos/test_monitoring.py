"""Prometheus and the exporters on the real stack: every target up, the names dashboards use."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import gevent
import pytest
import requests

from chaos.errors import MissingDependencyError
from chaos.monitoring.prometheus import PrometheusClient
from chaos.monitoring.services import monitoring_services
from chaos.settings import load_stack_settings
from chaos.stack import postgres
from chaos.stack.manager import Stack
from chaos.stack.services import services as stack_services
from tests.conftest import PORT_SETTINGS, eventually, faultyard, free_port, reachable_temp_dir

pytestmark = pytest.mark.slow

WAIT_S = 30.0


@pytest.fixture(scope="module")
def prom(stack: Stack) -> PrometheusClient:
    return PrometheusClient(stack.settings.prometheus_url)


def value(prom: PrometheusClient, expr: str) -> float | None:
    """Return the single value an instant query gives, None if it gives no series."""
    series = prom.query(expr)
    return series[0].values[0] if series else None


def test_every_scrape_target_is_up(stack: Stack, prom: PrometheusClient) -> None:
    expected = {"prometheus", "shop", "toxiproxy", "postgres", "redis", "rq", "faultyard"}

    def all_up() -> bool:
        targets = prom.targets()
        return {t.job for t in targets} == expected and all(t.health == "up" for t in targets)

    eventually(all_up, "every scrape target to be up", timeout_s=WAIT_S)


@pytest.mark.parametrize(
    "expr",
    [
        'pg_stat_database_deadlocks{datname="shop"}',
        'pg_stat_database_xact_commit{datname="shop"}',
        'pg_stat_activity_count{datname="shop",state="idle in transaction"}',
        "pg_lock_waits_waiting",
        "pg_idle_in_transaction_oldest_seconds",
        "redis_up == 1",
        "redis_memory_used_bytes",
        'rq_workers{queues="payments"}',
        'shop_http_requests_total{route="/products"}',
    ],
)
def test_queries_dashboards_rely_on_return_series(
    stack: Stack, prom: PrometheusClient, expr: str
) -> None:
    requests.get(f"{stack.settings.app_url}/products", timeout=5).raise_for_status()
    eventually(lambda: prom.query(expr), f"series for {expr}", timeout_s=WAIT_S)


def test_each_metric_comes_from_one_scrape_job(prom: PrometheusClient) -> None:
    """The shop's /metrics carries the shop's samples only, never the proxy's or an exporter's."""
    eventually(lambda: prom.query('count(shop_http_requests_total{job="shop"})'), "shop samples")
    foreign = prom.query('count by (__name__) ({job="shop", __name__=~"toxiproxy_.*|rq_.*"})')
    assert foreign == []


def test_alert_rules_are_loaded(prom: PrometheusClient) -> None:
    response = requests.get(f"{prom.url}/api/v1/rules", timeout=5)
    rules = [r for g in response.json()["data"]["groups"] for r in g["rules"]]
    assert {"PostgresDeadlocks", "DbPoolExhausted", "MemoryGrowth"} <= {r["name"] for r in rules}
    assert all(r["health"] != "err" for r in rules), [r.get("lastError") for r in rules]


def test_rq_exporter_counts_queued_jobs(stack: Stack, prom: PrometheusClient) -> None:
    from redis import Redis
    from rq import Queue

    # A queue of its own, that no worker listens on: its jobs stay queued.
    with Redis.from_url(stack.settings.redis_url) as redis:
        queue = Queue("monitoring-test", connection=redis)
        queue.enqueue("builtins.print", "never run")
        try:
            eventually(
                lambda: value(prom, 'rq_jobs{queue="monitoring-test",status="queued"}') == 1,
                "rq-exporter to count the queued job",
                timeout_s=WAIT_S,
            )
        finally:
            queue.delete(delete_jobs=True)


def test_lock_wait_and_idle_transaction_show_in_the_custom_queries(
    stack: Stack, prom: PrometheusClient, new_products: Callable[..., list[int]]
) -> None:
    (product_id,) = new_products(5)
    update = "UPDATE products SET stock = stock WHERE id = %s"
    shop_db = stack.settings.pg_database
    with (
        postgres.connect(stack.settings, dbname=shop_db) as holder,
        postgres.connect(stack.settings, dbname=shop_db) as waiter,
    ):
        holder.execute("BEGIN")
        holder.execute(update, (product_id,))  # holds the row lock, then sits idle
        waiter.execute("SET lock_timeout = '60s'")
        blocked = gevent.spawn(waiter.execute, update, (product_id,))
        try:
            eventually(
                lambda: (
                    (value(prom, "pg_idle_in_transaction_count") or 0) >= 1
                    and (value(prom, "pg_lock_waits_waiting") or 0) >= 1
                ),
                "the exporter to see the idle transaction and the lock wait",
                timeout_s=WAIT_S,
            )
            eventually(
                lambda: (
                    (value(prom, "pg_lock_waits_oldest_seconds") or 0) >= 1
                    and (value(prom, "pg_idle_in_transaction_oldest_seconds") or 0) >= 1
                ),
                "the oldest wait and the oldest idle transaction to age",
                timeout_s=WAIT_S,
            )
            # The rule runs on the real names: past 5 s of waiting, the alert fires.
            eventually(
                lambda: prom.query('ALERTS{alertname="PostgresLockWaits",alertstate="firing"}'),
                "PostgresLockWaits to fire",
                timeout_s=WAIT_S,
            )
        finally:
            holder.execute("ROLLBACK")
            blocked.get(timeout=10)


def test_status_shows_each_scrape_target(stack: Stack, cli_env: dict[str, str]) -> None:
    result = faultyard(cli_env, "status")
    assert result.returncode == 0, result.stdout + result.stderr
    block = result.stdout.split("\n\n")[-1].splitlines()
    assert block[0].split()[:3] == ["SCRAPE", "JOB", "INSTANCE"]
    jobs = {row.split()[0]: row.split()[2] for row in block[1:]}
    assert {"shop", "postgres", "redis", "rq", "prometheus", "toxiproxy", "faultyard"} <= set(jobs)
    assert jobs["postgres"] == "up"


def test_rq_dashboard_lists_queues_and_their_jobs(stack: Stack) -> None:
    from redis import Redis
    from rq import Queue

    with Redis.from_url(stack.settings.redis_url) as redis:
        queue = Queue("dashboard-test", connection=redis)
        queue.enqueue("builtins.print", "never run")
        try:
            url = f"{stack.settings.rq_dashboard_url}/0/data/queues.json"
            response = requests.get(url, timeout=5)
            assert response.status_code == 200
            counts = {q["name"]: q["count"] for q in response.json()["queues"]}
            assert counts["dashboard-test"] == 1
        finally:
            queue.delete(delete_jobs=True)


@pytest.fixture
def data_stores_only() -> Iterator[Stack]:
    """PostgreSQL, Redis and their exporters alone, in a state folder and on ports of their own."""
    state = reachable_temp_dir("faultyard-exporters-")
    settings = load_stack_settings(
        state_dir=state, seed_products=1, **{name: free_port() for name in PORT_SETTINGS}
    )
    wanted = {"postgres", "redis", "postgres-exporter", "redis-exporter"}
    stack = Stack(settings, [s for s in stack_services(settings) if s.name in wanted])
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
        shutil.rmtree(state, ignore_errors=True)


def test_exporters_keep_running_when_their_data_store_dies(data_stores_only: Stack) -> None:
    stack = data_stores_only
    metrics = {
        "postgres-exporter": (stack.settings.postgres_exporter_url, "pg_up"),
        "redis-exporter": (stack.settings.redis_exporter_url, "redis_up"),
    }

    def reading(name: str) -> float:
        url, gauge = metrics[name]
        text = requests.get(url, timeout=5).text
        line = next(x for x in text.splitlines() if x.startswith(f"{gauge} "))
        return float(line.split()[1])

    assert reading("postgres-exporter") == 1 and reading("redis-exporter") == 1
    for name in ("postgres", "redis"):
        record = stack.running(name)
        assert record is not None
        os.kill(record.pid, signal.SIGKILL)
    eventually(
        lambda: reading("postgres-exporter") == 0 and reading("redis-exporter") == 0,
        "the exporters to report their data stores down",
    )
    states = {s.name: s for s in stack.status()}
    assert not states["postgres"].running and not states["redis"].running
    assert states["postgres-exporter"].healthy and states["redis-exporter"].healthy


def test_missing_programs_say_how_to_install_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_stack_settings(state_dir=tmp_path, rq_exporter_bin="/nonexistent/rq-exporter")
    argv = {s.name: s.argv for s in monitoring_services(settings)}
    with pytest.raises(MissingDependencyError, match="make setup"):
        argv["rq-exporter"](settings)  # type: ignore[misc]
    monkeypatch.setenv("PATH", "/nonexistent")
    for name, package in (
        ("prometheus", "prometheus"),
        ("postgres-exporter", "prometheus-postgres-exporter"),
        ("redis-exporter", "prometheus-redis-exporter"),
    ):
        with pytest.raises(MissingDependencyError, match=f"Debian package {package}"):
            argv[name](settings)  # type: ignore[misc]
