"""End to end over real HTTP: gunicorn with gevent workers, RQ workers and the outbox relay."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator

import gevent
import pytest
import requests
from redis import Redis
from rq import Queue, Retry
from rq.job import JobStatus
from sqlalchemy import Engine, text

from chaos.stack.manager import Stack
from target_app.config import RELAY_HEARTBEAT_KEY
from tests.conftest import eventually, faultyard, login_headers

pytestmark = pytest.mark.slow

WAIT_S = 20.0


def test_shopping_flow_is_paid_by_a_worker_and_relayed(
    stack: Stack, redis_client: Redis, new_products: Callable[..., list[int]]
) -> None:
    base = stack.settings.app_url
    a, b = new_products(9, 9)
    http = requests.Session()
    http.headers.update(login_headers(base, user_id=2))
    cart_id = http.post(f"{base}/carts", timeout=5).json()["id"]
    for product_id in (a, b):
        added = http.post(
            f"{base}/carts/{cart_id}/items",
            json={"product_id": product_id, "quantity": 2},
            timeout=5,
        )
        assert added.status_code == 200
    placed = http.post(f"{base}/carts/{cart_id}/checkout", timeout=5)
    assert placed.status_code == 201
    order_id = placed.json()["id"]

    order = eventually(
        lambda: (
            (o := http.get(f"{base}/orders/{order_id}", timeout=5).json())["status"] == "paid" and o
        ),
        "the RQ worker to capture the payment",
    )
    assert order["paid_at"] is not None  # type: ignore[index]

    def relayed() -> list[str]:
        topics = [
            fields["topic"]
            for _, fields in redis_client.xrange("shop:events")
            if json.loads(fields["payload"])["order_id"] == order_id
        ]
        return topics if len(topics) == 2 else []

    assert eventually(relayed, "the relay to publish both events") == ["order.placed", "order.paid"]


def test_stock_stream_sends_server_sent_events(
    stack: Stack, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    base = stack.settings.app_url
    (a,) = new_products(30)
    with requests.get(f"{base}/stream/stock?limit=50", stream=True, timeout=WAIT_S) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        # Unbuffered: the default 512-byte chunks would wait for more than the greeting.
        lines: Iterator[str] = stream.iter_lines(chunk_size=1, decode_unicode=True)
        assert next(lines) == ": connected"
        checkout = requests.post(
            f"{base}/carts/{new_cart((a, 4))}/checkout", headers=login_headers(base), timeout=5
        )
        assert checkout.status_code == 201
        # Other tests' checkouts may be relayed meanwhile: read until this product's event.
        previous = ""
        for line in lines:
            if line.startswith("data: ") and json.loads(line[6:])["product_id"] == a:
                assert previous == "event: stock"
                change = json.loads(line[6:])
                assert {k: change[k] for k in ("product_id", "stock")} == {
                    "product_id": a,
                    "stock": 26,
                }
                assert re.fullmatch(
                    r"[0-9]+-[0-9]+", change["id"]
                )  # its entry in the events stream
                break
            previous = line
        else:
            pytest.fail("the stream ended without this product's stock event")


def test_metrics_merge_every_process(
    stack: Stack, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    base = stack.settings.app_url
    (a,) = new_products(5)
    auth = login_headers(base)
    order_id = requests.post(
        f"{base}/carts/{new_cart((a, 1))}/checkout", headers=auth, timeout=5
    ).json()["id"]
    eventually(
        lambda: (
            requests.get(f"{base}/orders/{order_id}", headers=auth, timeout=5).json()["status"]
            == "paid"
        ),
        "payment",
    )

    def job_metric() -> float:
        for line in requests.get(f"{base}/metrics", timeout=5).text.splitlines():
            if line.startswith('shop_jobs_total{function="capture_payment",outcome="succeeded"}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    # Counted in an RQ worker process, served by a gunicorn worker.
    assert eventually(job_metric, "job metrics from the RQ workers") >= 1
    text_ = requests.get(f"{base}/metrics", timeout=5).text
    assert (
        'shop_http_requests_total{method="POST",route="/carts/<int:cart_id>/checkout",status="201"}'
        in text_
    )
    assert "shop_db_pool_size" in text_
    assert "shop_outbox_backlog_events" in text_  # written by the relay process


def test_db_bound_requests_overlap_in_one_gevent_worker(
    stack: Stack, db: Engine, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    """Hold a row lock; more checkouts wait on it at once than there are worker processes."""
    base = stack.settings.app_url
    concurrent = 3 * stack.settings.app_workers
    (a,) = new_products(100)
    carts = [new_cart((a, 1)) for _ in range(concurrent)]

    def waiting_on_locks() -> int:
        with db.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND application_name = 'faultyard-shop'"
                    )
                ).scalar_one()
            )

    with db.connect() as blocker:
        blocker.execute(text("SELECT 1 FROM products WHERE id = :id FOR UPDATE"), {"id": a})
        auth = login_headers(base)
        pending = [
            gevent.spawn(requests.post, f"{base}/carts/{c}/checkout", headers=auth, timeout=WAIT_S)
            for c in carts
        ]
        # Blocking workers could hold at most one waiting query each.
        eventually(
            lambda: waiting_on_locks() >= concurrent, f"{concurrent} checkouts waiting at once"
        )
        blocker.rollback()
    gevent.joinall(pending, raise_error=True)
    assert [job.value.status_code for job in pending] == [201] * concurrent


def test_switch_reaches_every_gunicorn_and_rq_worker(
    stack: Stack, cli_env: dict[str, str], redis_client: Redis
) -> None:
    base = stack.settings.app_url
    token = (stack.state / "admin-token").read_text().strip()
    turned_on = faultyard(cli_env, "switch", "lock_in_cart_order", "on")
    assert turned_on.returncode == 0, turned_on.stderr
    try:
        time.sleep(1.0)  # the promise under test: every process sees it within a second
        seen: dict[int, bool] = {}
        for _ in range(400):
            if len(seen) == stack.settings.app_workers:
                break
            body = requests.get(
                f"{base}/admin/switches",
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
                timeout=5,
            ).json()
            seen[body["pid"]] = next(
                s["on"] for s in body["switches"] if s["name"] == "lock_in_cart_order"
            )
        assert len(seen) == stack.settings.app_workers, (
            f"only reached gunicorn workers {sorted(seen)}"
        )
        assert all(seen.values())

        # Each RQ worker answers with the board its process has kept since it started.
        queue = Queue("payments", connection=Redis.from_url(stack.settings.redis_url))
        workers = {f"faultyard-worker-{n}" for n in range(1, stack.settings.rq_workers + 1)}
        answered: dict[str, bool] = {}
        for _ in range(50):
            if set(answered) == workers:
                break
            probe = queue.enqueue("target_app.jobs.switch_states")
            states = eventually(lambda p=probe: p.return_value(refresh=True), "a switch_states job")
            probe.refresh()
            answered[str(probe.worker_name)] = states["lock_in_cart_order"]  # type: ignore[index]
        assert set(answered) == workers, f"only RQ workers {sorted(answered)} answered"
        assert all(answered.values())
    finally:
        assert faultyard(cli_env, "switch", "reset").returncode == 0


def test_failed_jobs_are_retried_after_their_delay(stack: Stack) -> None:
    """Delayed retries need the scheduler: without it the job would wait in the scheduled registry."""
    queue = Queue("payments", connection=Redis.from_url(stack.settings.redis_url))
    job = queue.enqueue("builtins.int", "not a number", retry=Retry(max=2, interval=1))

    def exhausted() -> bool:
        job.refresh()
        return job.get_status() == JobStatus.FAILED and job.retries_left == 0

    eventually(exhausted, "the job to fail three times (two delayed retries)")
    assert job in queue.failed_job_registry


def test_relay_keeps_its_heartbeat(redis_client: Redis) -> None:
    assert float(redis_client.get(RELAY_HEARTBEAT_KEY) or 0) > time.time() - 10
