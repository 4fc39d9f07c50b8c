"""The Faultyard exporter: process CPU/RSS, active faults and business invariants, for real."""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from sqlalchemy import Engine, text

from chaos.admin_client import AdminClient
from chaos.exporter.invariants import Ledger, oversold_units
from chaos.exporter.outbox_tail import OutboxTail
from chaos.exporter.processes import ProcessCollector
from chaos.exporter.stream import StreamWatch, utc_now
from chaos.settings import libpq_url
from chaos.stack import process
from chaos.stack.manager import Stack
from chaos.toxiproxy import ToxiproxyClient
from tests.conftest import AppFactory, eventually, free_port, login_headers

pytestmark = pytest.mark.slow

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, timeout_s: float = 5.0) -> Samples:
    """Return every sample the exporter serves, keyed by name and labels."""
    response = requests.get(url, timeout=timeout_s)
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, metric: str, /, **labels: str) -> float | None:
    """Return one sample's value, None if the exporter does not serve it."""
    return samples.get((metric, frozenset(labels.items())))


def gauge(stack: Stack, name: str) -> float | None:
    """Scrape the stack's exporter for one unlabelled gauge."""
    return value(scrape(stack.settings.exporter_url), name)


def test_the_exporter_is_a_healthy_service_of_the_stack(stack: Stack) -> None:
    states = {state.name: state for state in stack.status()}
    assert states["exporter"].running and states["exporter"].healthy, states["exporter"]
    asked_at = time.time()
    samples = scrape(stack.settings.exporter_url)
    for source in ("postgres", "redis", "toxiproxy"):
        assert value(samples, "faultyard_source_up", source=source) == 1.0, source
        # When the read behind the values began: within the last poll or two.
        read_at = value(samples, "faultyard_source_read_timestamp_seconds", source=source)
        assert read_at is not None and asked_at - 3 < read_at <= time.time(), (source, read_at)


def test_cpu_and_rss_of_every_service_tree(stack: Stack) -> None:
    def complete() -> Samples | None:
        samples = scrape(stack.settings.exporter_url)
        services = ("app", "postgres", "redis", "worker-1", "relay", "exporter")
        found = all(
            value(samples, "faultyard_process_resident_memory_bytes", service=s) for s in services
        )
        return samples if found else None

    samples = eventually(complete, "RSS of every service")
    assert isinstance(samples, dict)
    for service in ("app", "postgres", "worker-1"):
        assert value(samples, "faultyard_process_cpu_seconds_total", service=service) > 0

    # The gunicorn master and its workers are one service, whose memory is their Pss summed:
    # shared pages count once, so it is below the sum of their RSS and above their private
    # pages (USS). Read again until the exporter's reading (every 2 s) catches up with a
    # stack that just started and whose workers still grow.
    master = process.read_pid_file(stack.pid_file("app"))
    assert master is not None
    workers = psutil.Process(master.pid).children()
    assert len(workers) == stack.settings.app_workers
    tree = [psutil.Process(master.pid), *workers]

    def within_bounds() -> tuple[float, int, int] | None:
        memory = value(
            scrape(stack.settings.exporter_url), "faultyard_process_resident_memory_bytes",
            service="app",
        )  # fmt: skip
        rss_sum = sum(p.memory_info().rss for p in tree)
        uss_sum = sum(p.memory_full_info().uss for p in tree)
        found = (memory or 0.0, uss_sum, rss_sum)
        return found if memory is not None and 0.9 * uss_sum < memory < rss_sum else None

    eventually(within_bounds, "the app's memory between its USS and RSS sums")


def test_cpu_counter_keeps_the_cpu_of_children_that_exited(tmp_path: Path) -> None:
    """A child that burned CPU and was reaped still counts: its time moved to its parent."""
    burner = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    parent = (
        "import subprocess, sys, time\n"
        f"subprocess.run([sys.executable, '-c', {burner!r}], check=True)\n"
        "print('reaped', flush=True)\n"
        "time.sleep(60)\n"
    )
    log = tmp_path / "logs" / "tree.log"
    record = process.spawn(
        [sys.executable, "-c", parent],
        pid_file=tmp_path / "run" / "tree.pid",
        log_file=log,
        env=dict(os.environ),
    )
    try:
        eventually(lambda: "reaped" in log.read_text(), "the child to finish")
        assert psutil.Process(record.pid).children() == []
        usage = ProcessCollector(tmp_path / "run").usage()["tree"]
        own = psutil.Process(record.pid).cpu_times()
        assert usage.processes == 1
        assert usage.cpu_seconds >= own.user + own.system + 0.3
    finally:
        process.stop(record, timeout_s=5)


def test_cpu_counter_never_drops_while_backends_come_and_go(stack: Stack, db: Engine) -> None:
    readings = []
    for _ in range(15):
        # Each connection is a PostgreSQL backend that does some work and exits.
        with db.connect() as conn:
            conn.execute(text("SELECT count(*) FROM generate_series(1, 200000)"))
        db.dispose()
        samples = scrape(stack.settings.exporter_url)
        readings.append(value(samples, "faultyard_process_cpu_seconds_total", service="postgres"))
    assert None not in readings
    assert readings == sorted(readings), readings  # type: ignore[type-var]
    assert readings[-1] > readings[0]  # type: ignore[operator]


def fault(stack: Stack, kind: str, target: str, name: str) -> float | None:
    samples = scrape(stack.settings.exporter_url)
    return value(samples, "faultyard_fault_active", kind=kind, target=target, name=name)


def test_a_toxic_shows_while_it_is_on(stack: Stack) -> None:
    toxiproxy = ToxiproxyClient(stack.settings.toxiproxy_api_url)
    name = "exporter_test_latency"
    toxiproxy.add_toxic("shop", "latency", attributes={"latency": 1}, name=name)
    try:
        eventually(lambda: fault(stack, "toxic", "shop", name) == 1.0, "the toxic to show")
        assert gauge(stack, "faultyard_faults_active") >= 1  # type: ignore[operator]
    finally:
        toxiproxy.remove_toxic("shop", name)
    eventually(lambda: fault(stack, "toxic", "shop", name) is None, "the toxic to go")


def test_a_disabled_proxy_shows_as_proxy_down(stack: Stack) -> None:
    toxiproxy = ToxiproxyClient(stack.settings.toxiproxy_api_url)
    toxiproxy.set_enabled("shop", False)
    try:
        eventually(lambda: fault(stack, "proxy_down", "shop", "down") == 1.0, "proxy down")
    finally:
        toxiproxy.set_enabled("shop", True)
    eventually(lambda: fault(stack, "proxy_down", "shop", "down") is None, "proxy up again")


def test_a_bug_switch_shows_while_it_is_on(stack: Stack) -> None:
    admin = AdminClient(stack.settings.app_url, (stack.state / "admin-token").read_text().strip())
    before = gauge(stack, "faultyard_faults_active")
    admin.set_switch("leak_session_on_error", True)
    try:
        eventually(
            lambda: fault(stack, "switch", "shop", "leak_session_on_error") == 1.0,
            "the switch to show",
        )
        assert gauge(stack, "faultyard_faults_active") == before + 1  # type: ignore[operator]
    finally:
        admin.set_switch("leak_session_on_error", False)
    eventually(
        lambda: fault(stack, "switch", "shop", "leak_session_on_error") is None,
        "the switch to go",
    )


def baseline(stack: Stack, name: str) -> float:
    """Return the current value of an invariant (served once the exporter has read its sources)."""
    found = eventually(
        lambda: (v := gauge(stack, name)) is not None and (v,), f"{name} to be served"
    )
    return float(found[0])  # type: ignore[index]


def test_negative_stock_counts_as_oversold(
    stack: Stack, db: Engine, new_products: Callable[..., list[int]]
) -> None:
    before = baseline(stack, "shop_invariant_oversold_units")
    (product,) = new_products(-3)
    try:
        eventually(
            lambda: gauge(stack, "shop_invariant_oversold_units") == before + 3, "oversold + 3"
        )
    finally:
        with db.begin() as conn:
            conn.execute(text("DELETE FROM products WHERE id = :id"), {"id": product})
    eventually(lambda: gauge(stack, "shop_invariant_oversold_units") == before, "back to before")


def test_a_lost_update_on_stock_counts_as_oversold(
    stack: Stack,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    """Two real checkouts each sell the product's one unit: the stock was put back in between,
    as a read-modify-write lost update leaves it, so two units were sold of one."""
    before = baseline(stack, "shop_invariant_oversold_units")
    (product,) = new_products(1)
    orders = []
    for _ in range(2):
        cart = new_cart((product, 1))
        placed = requests.post(
            f"{stack.settings.app_url}/carts/{cart}/checkout",
            headers=login_headers(stack.settings.app_url),
            timeout=10,
        )
        assert placed.status_code == 201, placed.text
        orders.append(placed.json()["id"])
        with db.begin() as conn:
            conn.execute(text("UPDATE products SET stock = 1 WHERE id = :id"), {"id": product})
    try:
        eventually(
            lambda: gauge(stack, "shop_invariant_oversold_units") == before + 1, "oversold + 1"
        )
    finally:
        for order in orders:  # let the payment jobs finish before the orders go
            eventually(
                lambda o=order: (
                    requests.get(
                        f"{stack.settings.app_url}/orders/{o}",
                        headers=login_headers(stack.settings.app_url),
                        timeout=5,
                    ).json()["status"]
                    == "paid"
                ),
                "payment",
            )
        with db.begin() as conn:
            conn.execute(text("DELETE FROM orders WHERE id = ANY(:o)"), {"o": orders})
            conn.execute(text("DELETE FROM cart_items WHERE product_id = :p"), {"p": product})
            conn.execute(text("DELETE FROM products WHERE id = :p"), {"p": product})
    # A product that no longer exists no longer counts.
    eventually(lambda: gauge(stack, "shop_invariant_oversold_units") == before, "back to before")


def test_two_orders_for_one_cart_count_as_a_duplicate(
    stack: Stack, db: Engine, new_cart: Callable[..., int]
) -> None:
    """The schema forbids it (uq_orders_cart_id): lift the constraint for this test only."""
    before = baseline(stack, "shop_invariant_duplicate_orders")
    cart = new_cart()
    with db.begin() as conn:
        conn.execute(text("ALTER TABLE orders DROP CONSTRAINT uq_orders_cart_id"))
    try:
        with db.begin() as conn:
            for _ in range(2):
                conn.execute(
                    text(
                        "INSERT INTO orders (user_id, cart_id, status, total_cents) "
                        "VALUES (1, :cart, 'pending_payment', 0)"
                    ),
                    {"cart": cart},
                )
        eventually(
            lambda: gauge(stack, "shop_invariant_duplicate_orders") == before + 1, "duplicates + 1"
        )
    finally:
        with db.begin() as conn:
            conn.execute(text("DELETE FROM orders WHERE cart_id = :cart"), {"cart": cart})
            conn.execute(
                text("ALTER TABLE orders ADD CONSTRAINT uq_orders_cart_id UNIQUE (cart_id)")
            )
    eventually(lambda: gauge(stack, "shop_invariant_duplicate_orders") == before, "back to before")


def test_two_orders_placed_with_one_client_key_count_as_a_duplicate(
    stack: Stack, db: Engine, make_app: AppFactory, new_products: Callable[..., list[int]]
) -> None:
    """A purchase retried with its Idempotency-Key that the shop placed twice (the real bug)."""
    before = baseline(stack, "shop_invariant_duplicate_orders")
    app = make_app()
    app.extensions["switches"].set("buy_now_ignores_idempotency_key", True)
    (product,) = new_products(5)
    key = f"exporter-{uuid.uuid4()}"
    for _ in range(2):
        response = app.test_client().post(
            "/orders",
            json={"product_id": product, "quantity": 1},
            headers={"Idempotency-Key": key},
        )
        assert response.status_code == 201, response.get_json()
    eventually(
        lambda: gauge(stack, "shop_invariant_duplicate_orders") == before + 1, "duplicates + 1"
    )
    with db.begin() as conn:
        conn.execute(
            text("DELETE FROM outbox_events WHERE payload->>'request_key' = :k"), {"k": key}
        )
    eventually(lambda: gauge(stack, "shop_invariant_duplicate_orders") == before, "back to before")


def test_an_event_marked_published_but_never_streamed_is_lost(stack: Stack, db: Engine) -> None:
    """What a dual write leaves behind: the outbox row says published, the stream never got it."""
    before = baseline(stack, "shop_invariant_lost_events")
    with db.begin() as conn:
        event = conn.execute(
            text(
                "INSERT INTO outbox_events (topic, payload, published_at) "
                "VALUES ('test.lost', '{}', :now) RETURNING id"
            ),
            {"now": datetime.now(UTC).replace(tzinfo=None)},
        ).scalar_one()
    try:
        eventually(lambda: gauge(stack, "shop_invariant_lost_events") == before + 1, "lost + 1")
    finally:
        with db.begin() as conn:
            conn.execute(text("DELETE FROM outbox_events WHERE id = :id"), {"id": event})
    eventually(lambda: gauge(stack, "shop_invariant_lost_events") == before, "back to before")


def test_relayed_events_are_not_lost(
    stack: Stack,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    """Real checkouts go through the outbox and the relay: none of their events counts as lost."""
    before = baseline(stack, "shop_invariant_lost_events")
    (product,) = new_products(10)
    orders = []
    for _ in range(3):
        cart = new_cart((product, 1))
        placed = requests.post(
            f"{stack.settings.app_url}/carts/{cart}/checkout",
            headers=login_headers(stack.settings.app_url),
            timeout=10,
        )
        assert placed.status_code == 201, placed.text
        orders.append(placed.json()["id"])

    def published() -> bool:
        with db.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM outbox_events WHERE topic = 'order.placed' "
                    "AND published_at IS NOT NULL AND (payload ->> 'order_id')::int = ANY(:o)"
                ),
                {"o": orders},
            ).scalar_one() == len(orders)

    eventually(published, "the relay to publish the orders' events")
    for _ in range(5):  # several exporter passes after the events were published
        assert gauge(stack, "shop_invariant_lost_events") == before
        time.sleep(0.5)


def test_stream_watch_judges_only_what_it_can_know(redis_client: Redis) -> None:
    """Against the stack's Redis: events a trimmed stream held before the watch are not judged."""
    stream = f"test:watch:{os.getpid()}:{time.monotonic_ns()}"
    try:
        for event_id in (1, 2, 3):
            redis_client.xadd(stream, {"event_id": event_id})
        published_before = utc_now()
        # Entries 1 and 2 are trimmed away before the watch starts.
        redis_client.xtrim(stream, maxlen=1, approximate=False)
        watch = StreamWatch(redis_client, stream)
        assert watch.read() is True
        assert watch.seen == {3}
        assert watch.nothing_deleted_before_start is False
        redis_client.xadd(stream, {"event_id": 5})
        assert watch.read() is True
        published_after = utc_now()

        assert watch.take(3) and watch.take(5)  # held by the stream
        assert not watch.take(3)  # judged once
        assert not watch.can_judge(published_before)  # 1 and 2: maybe trimmed, unknowable
        assert watch.can_judge(published_after)  # 4: published while watched, never streamed
    finally:
        redis_client.delete(stream)


def test_stream_watch_judges_everything_when_nothing_was_ever_trimmed(
    redis_client: Redis,
) -> None:
    stream = f"test:watch:{os.getpid()}:{time.monotonic_ns()}"
    try:
        redis_client.xadd(stream, {"event_id": 7})
        watch = StreamWatch(redis_client, stream)
        assert watch.read() is True
        assert watch.nothing_deleted_before_start is True
        assert watch.can_judge(datetime(2000, 1, 1))
        assert watch.take(7)
    finally:
        redis_client.delete(stream)


def test_stream_watch_judges_nothing_from_before_a_stream_that_does_not_exist(
    redis_client: Redis,
) -> None:
    """A restarted Redis lost the stream: the events published before cannot be judged lost."""
    stream = f"test:watch:{os.getpid()}:{time.monotonic_ns()}"
    published_before = utc_now()
    watch = StreamWatch(redis_client, stream)
    try:
        assert watch.read() is True
        assert watch.nothing_deleted_before_start is False
        assert not watch.can_judge(published_before)
        redis_client.xadd(stream, {"event_id": 9})
        assert watch.read() is True
        assert watch.can_judge(utc_now())  # published while watched
        assert watch.take(9)
    finally:
        redis_client.delete(stream)


def _insert_event(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "INSERT INTO outbox_events (topic, payload) VALUES ('test', '{}') RETURNING id"
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_outbox_tail_hands_over_late_commits_once(scratch_database: str) -> None:
    """An event committed after a greater id was read still comes, once; a rollback's id settles."""
    url = libpq_url(scratch_database)
    tail = OutboxTail()
    with (
        psycopg.connect(url, autocommit=True) as reader,
        psycopg.connect(url, autocommit=True) as writer,
        psycopg.connect(url) as slow,  # one transaction, left open
    ):
        late = _insert_event(slow)
        rolled_back_conn = psycopg.connect(url)
        rolled_back = _insert_event(rolled_back_conn)
        rolled_back_conn.rollback()
        rolled_back_conn.close()
        first = _insert_event(writer)

        assert [r.id for r in tail.read(reader)] == [first]
        assert {late, rolled_back} <= tail.gaps
        assert tail.read(reader) == []  # still open: not visible, not forgotten
        assert late in tail.gaps
        slow.commit()
        assert [r.id for r in tail.read(reader)] == [late]

        # The rolled back id is given up once every transaction of its time has ended.
        eventually(lambda: tail.read(reader) == [] and not tail.gaps, "the gaps to settle")
        second = _insert_event(writer)
        assert [r.id for r in tail.read(reader)] == [second]


def test_outbox_tail_catches_up_in_batches(scratch_database: str) -> None:
    url = libpq_url(scratch_database)
    tail = OutboxTail(batch=2)
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [_insert_event(conn) for _ in range(5)]
        reads = [tail.read(conn) for _ in range(3)]
    assert [[r.id for r in rows] for rows in reads] == [ids[:2], ids[2:4], ids[4:]]
    assert tail.caught_up


def test_ledger_counts_units_sold_more_than_once() -> None:
    ledger = Ledger()
    ledger.add({"items": [{"product_id": 1, "quantity": 2, "stock_after": 8}]})  # units 8, 9
    ledger.add({"items": [{"product_id": 1, "quantity": 1, "stock_after": 7}]})  # unit 7
    assert ledger.oversold_products() == {}
    # A lost update: this checkout read 9, as the first did, and sold unit 8 again.
    ledger.add({"items": [{"product_id": 1, "quantity": 1, "stock_after": 8}]})
    assert ledger.oversold_products() == {1: 1}
    # A read of 9 again, selling three: units 7 and 8 sold once more; unit 6 is new.
    ledger.add(
        {
            "items": [
                {"product_id": 1, "quantity": 3, "stock_after": 6},
                {"product_id": 2, "quantity": 2, "stock_after": 3},
            ]
        }
    )
    assert ledger.oversold_products() == {1: 3}
    ledger.add({"items": [{"product_id": 3, "quantity": "2"}, "junk"]})  # skipped, no error
    ledger.add({"no": "items"})
    assert ledger.oversold_products() == {1: 3}
    assert oversold_units({1: 1}, {1: 3, 4: 2}) == 5  # the larger count per product


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers, like a paused (SIGSTOP) process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def test_the_exporter_answers_while_every_source_hangs(tmp_path: Path, silent_server: str) -> None:
    """Scrapes only read caches: hung sources show as source_up 0, processes are still there."""
    port = free_port()
    (tmp_path / "run").mkdir()
    argv = [
        sys.executable, "-m", "chaos.exporter",
        "--port", str(port),
        "--state-dir", str(tmp_path),
        "--database-url", f"postgresql://nobody@{silent_server}/nothing",
        "--redis-url", f"redis://{silent_server}/0",
        "--toxiproxy-url", f"http://{silent_server}",
    ]  # fmt: skip
    record = process.spawn(
        argv,
        pid_file=tmp_path / "run" / "exporter.pid",
        log_file=tmp_path / "exporter.log",
        env=dict(os.environ),
    )
    url = f"http://127.0.0.1:{port}/metrics"

    def answered() -> Samples | None:
        try:
            return scrape(url, timeout_s=5)
        except requests.ConnectionError:
            return None

    try:
        samples = eventually(answered, "the exporter to listen")
        assert isinstance(samples, dict)
        for _ in range(3):  # while the reads hang, scrape after scrape
            samples = scrape(url, timeout_s=5)
            for source in ("postgres", "redis", "toxiproxy"):
                assert value(samples, "faultyard_source_up", source=source) == 0.0
            assert value(samples, "faultyard_faults_active") == 0.0
            assert value(samples, "shop_invariant_oversold_units") is None
            rss = value(samples, "faultyard_process_resident_memory_bytes", service="exporter")
            assert rss is not None and rss > 0
            time.sleep(1.0)
    finally:
        process.stop(record, timeout_s=5)
