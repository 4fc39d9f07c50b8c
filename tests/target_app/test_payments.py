"""Payment capture: the RQ job against the real database, and its enqueue with backoff."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import Engine, insert, select, update

from chaos.stack.manager import Stack
from target_app import jobs
from target_app.config import load_settings
from target_app.models import Order, OutboxEvent
from target_app.services.payments import enqueue_capture, retry_intervals_s
from tests.conftest import free_port, pending_order


@pytest.fixture
def job_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point jobs run in this process at the session's stack, as the stack does for workers."""
    monkeypatch.setenv("FAULTYARD_DATABASE_URL", stack.settings.database_url)
    monkeypatch.setenv("FAULTYARD_PAYMENT_DELAY_MS", "0")
    yield
    jobs.dispose_engine()


def test_retry_intervals_grow_exponentially_with_bounded_jitter() -> None:
    for seed in range(50):
        intervals = retry_intervals_s(retries=4, base_s=2.0, rng=random.Random(seed))
        assert len(intervals) == 4
        for n, interval in enumerate(intervals):
            assert max(1, round(2.0 * 2**n * 0.5)) <= interval <= round(2.0 * 2**n * 1.5)
    spread = {
        tuple(retry_intervals_s(retries=3, base_s=4.0, rng=random.Random(s))) for s in range(20)
    }
    assert len(spread) > 1  # jittered: clients that failed together do not retry together


def test_enqueue_sets_retries_backoff_and_timeout(stack: Stack) -> None:
    settings = load_settings(
        {"redis_url": stack.settings.redis_url, "payment_queue": "enqueue-test"}
    )
    redis = Redis.from_url(settings.redis_url)
    job_id = enqueue_capture(order_id=123, redis=redis, settings=settings)
    assert job_id is not None
    queue = Queue("enqueue-test", connection=redis)
    job = queue.fetch_job(job_id)
    assert job is not None
    assert job.func_name == "target_app.jobs.capture_payment"
    assert job.args == (123,)
    assert job.retries_left == settings.payment_max_retries
    assert len(job.retry_intervals) == settings.payment_max_retries
    assert job.timeout == settings.payment_job_timeout_s
    queue.empty()


def test_enqueue_with_redis_down_raises_for_the_relay_to_retry() -> None:
    settings = load_settings({"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with pytest.raises(RedisError):
        enqueue_capture(order_id=1, redis=Redis.from_url(settings.redis_url), settings=settings)


@pytest.mark.usefixtures("job_env")
def test_capture_marks_the_order_paid_once(
    client, db: Engine, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    (a,) = new_products(5)
    order_id = client.post(f"/carts/{new_cart((a, 1))}/checkout").get_json()["id"]
    assert jobs.capture_payment(order_id) == "paid"
    assert jobs.capture_payment(order_id) == "already paid"
    assert client.get(f"/orders/{order_id}").get_json()["status"] == "paid"
    with db.connect() as conn:
        paid_events = conn.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.topic == "order.paid")
        ).all()
    assert sum(p["order_id"] == order_id for p in paid_events) == 1


@pytest.mark.usefixtures("job_env")
def test_capture_fails_when_the_provider_fails(
    monkeypatch: pytest.MonkeyPatch,
    db: Engine,
    new_products: Callable[..., list[int]],
    new_cart: Callable[..., int],
) -> None:
    (product,) = new_products(5)
    order_id = pending_order(db, new_cart((product, 1)))
    monkeypatch.setenv("FAULTYARD_PAYMENT_FAILURE_RATE", "1.0")
    with pytest.raises(jobs.PaymentProviderError):
        jobs.capture_payment(order_id)
    # Paid already (a capture delivered twice): the provider is not asked again.
    with db.begin() as conn:
        conn.execute(update(Order).where(Order.id == order_id).values(status="paid"))
    assert jobs.capture_payment(order_id) == "already paid"


def order_events(db: Engine, order_id: int, topic: str) -> list[dict[str, object]]:
    """Return the payloads of an order's outbox events of one topic."""
    with db.connect() as conn:
        payloads = conn.scalars(select(OutboxEvent.payload).where(OutboxEvent.topic == topic))
        return [p for p in payloads if p["order_id"] == order_id]


@pytest.mark.usefixtures("job_env")
def test_only_a_pending_order_fails_its_payment_and_only_once(
    client, db: Engine, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    (a,) = new_products(5)
    # Orders without an outbox event: the session stack's relay and workers never pay them.
    with db.begin() as conn:
        pending, paid = (
            conn.execute(
                insert(Order)
                .values(user_id=1, cart_id=new_cart((a, 1)), status="pending_payment",
                        total_cents=1000)
                .returning(Order.id)
            ).scalar_one()
            for _ in range(2)
        )  # fmt: skip
    assert jobs.capture_payment(paid) == "paid"
    assert jobs.fail_payment(pending, "provider down") == "payment_failed"
    assert jobs.fail_payment(pending, "again") == "payment_failed"  # no second event
    assert jobs.fail_payment(paid, "a late duplicate job") == "paid"  # a paid order stays paid
    assert order_events(db, pending, "order.payment_failed") == [
        {"order_id": pending, "total_cents": 1000, "reason": "provider down"}
    ]
    assert order_events(db, paid, "order.payment_failed") == []
    answer = client.get(f"/orders/{pending}")
    assert answer.status_code == 200 and answer.get_json()["status"] == "payment_failed"
    schema = client.get("/openapi.json").get_json()["components"]["schemas"]["OrderOut"]
    assert schema["properties"]["status"]["enum"] == ["pending_payment", "paid", "payment_failed"]
    # A job replayed from the failed registry once the provider is back still pays it.
    assert jobs.capture_payment(pending) == "paid"
    assert len(order_events(db, pending, "order.paid")) == 1
