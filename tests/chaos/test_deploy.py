"""The deploy fault on a private stack: what a rolling restart does to requests and jobs in flight.

The shop (one gunicorn worker) is reloaded while a checkout is in flight through the
proxy in front of it, and an RQ worker is stopped while it runs a job, each with the
shop's SIGTERM bug on and off (target_app/shutdown.py).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from redis import Redis
from rq import Queue
from rq.job import JobStatus
from sqlalchemy import Engine, create_engine, insert, text

from chaos.faults import Deploy
from chaos.faults.context import FaultContext
from chaos.settings import load_stack_settings
from chaos.stack.manager import Stack
from chaos.stack.services import services as stack_services
from target_app.models import Cart, CartItem, Product
from target_app.public import runtime_settings_file, switches_file
from target_app.runtime_settings import RuntimeSettings
from target_app.shutdown import SWITCH
from target_app.switches import SwitchBoard
from tests.chaos.proxy.conftest import metric
from tests.conftest import PORT_SETTINGS, eventually, free_port, login_headers, reachable_temp_dir

pytestmark = pytest.mark.slow

#: The checkout's pause between its row locks: the request is in flight that long.
PAUSE_MS = 2000
IN_TRANSACTION = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE application_name = 'faultyard-shop' AND state = 'idle in transaction'"
)


@pytest.fixture(scope="module")
def deployable() -> Iterator[Stack]:
    """PostgreSQL, Redis, the proxy, the shop (one worker) and one RQ worker, of their own."""
    state = reachable_temp_dir("faultyard-deploy-")
    settings = load_stack_settings(
        state_dir=state,
        seed_products=2,
        app_workers=1,
        rq_workers=1,
        **{name: free_port() for name in PORT_SETTINGS},
    )
    wanted = {"postgres", "redis", "proxy", "app", "worker-1"}
    stack = Stack(settings, [s for s in stack_services(settings) if s.name in wanted])
    try:
        stack.up()
        RuntimeSettings(runtime_settings_file(state)).set("checkout_lock_pause_ms", PAUSE_MS)
        yield stack
    finally:
        stack.down()
        shutil.rmtree(state, ignore_errors=True)


def bug(stack: Stack, on: bool) -> None:
    SwitchBoard(switches_file(stack.state)).set(SWITCH, on)


def two_item_cart(db: Engine) -> int:
    """A cart of two products: its checkout pauses between their row locks."""
    with db.begin() as conn:
        products = [
            conn.execute(
                insert(Product)
                .values(
                    sku=f"DEPLOY-{uuid.uuid4().hex[:8]}",
                    name="Deployed",
                    category="testing",
                    price_cents=100,
                    stock=1000,
                )
                .returning(Product.id)
            ).scalar_one()
            for _ in range(2)
        ]
        cart = conn.execute(insert(Cart).values(user_id=1).returning(Cart.id)).scalar_one()
        for product in products:
            conn.execute(insert(CartItem).values(cart_id=cart, product_id=product, quantity=1))
    return int(cart)


def in_transaction(db: Engine) -> bool:
    """Return whether a shop session holds a transaction open (a connection per look: a
    transaction would keep seeing the first snapshot of pg_stat_activity)."""
    with db.connect() as conn:
        return int(conn.execute(text(IN_TRANSACTION)).scalar_one()) > 0


def checkout_during_deploy(stack: Stack) -> tuple[str, float]:
    """Check a cart out through the proxy, deploy the shop meanwhile; return (outcome, drops)."""
    db = create_engine(stack.settings.database_url)
    shop = stack.settings.shop_url
    proxy_api = stack.settings.toxiproxy_api_url
    dropped_before = metric(proxy_api, "faultyard_proxy_requests_dropped_total", "shop")
    try:
        cart = two_item_cart(db)
        with ThreadPoolExecutor(1) as pool:
            auth = login_headers(stack.settings.app_url)
            answer = pool.submit(
                requests.post, f"{shop}/carts/{cart}/checkout", headers=auth, timeout=30
            )
            eventually(lambda: in_transaction(db), "the checkout to hold its first lock")
            Deploy(service="app").apply(FaultContext.for_stack(stack))
            try:
                outcome = str(answer.result().status_code)
            except requests.ConnectionError as exc:
                outcome = f"no answer: {type(exc).__name__}"
    finally:
        db.dispose()
    return outcome, metric(proxy_api, "faultyard_proxy_requests_dropped_total", "shop") - (
        dropped_before
    )


def test_bug_a_deploy_of_the_shop_cuts_the_request_in_flight(deployable: Stack) -> None:
    bug(deployable, True)
    try:
        outcome, dropped = checkout_during_deploy(deployable)
    finally:
        bug(deployable, False)
    assert outcome.startswith("no answer"), outcome
    assert dropped == 1


def test_fix_a_deploy_of_the_shop_answers_the_request_in_flight(deployable: Stack) -> None:
    bug(deployable, False)
    outcome, dropped = checkout_during_deploy(deployable)
    assert (outcome, dropped) == ("201", 0)


@pytest.mark.parametrize("on", [False, True], ids=["fix", "bug"])
def test_a_deploy_of_a_worker_stops_it_mid_job_and_starts_it_again(
    deployable: Stack, on: bool
) -> None:
    redis = Redis.from_url(deployable.settings.redis_url)
    before = deployable.running("worker-1")
    bug(deployable, on)
    try:
        job = Queue("payments", connection=redis).enqueue("time.sleep", 1.0)
        said = Deploy(service="worker-1").apply(FaultContext.for_stack(deployable))
    finally:
        bug(deployable, False)
    assert "SIGTERM mid-job" in said and "started again" in said
    after = deployable.running("worker-1")
    assert before is not None and after is not None and after.pid != before.pid
    expected = JobStatus.STARTED if on else JobStatus.FINISHED  # abandoned, or finished first
    assert job.get_status(refresh=True) == expected
    if on:  # let it not stand in the way of the next test: RQ would call it abandoned later
        job.delete()
    redis.close()


def test_deploy_refuses_what_it_cannot_deploy() -> None:
    with pytest.raises(ValueError, match="service"):
        Deploy(service="postgres")


@pytest.mark.parametrize("on", [False, True], ids=["fix", "bug"])
def test_a_deploy_of_the_shop_and_a_held_long_poll(deployable: Stack, on: bool) -> None:
    """The fix answers a poll the old worker holds at once (it drains); the bug cuts it."""
    proxy_api = deployable.settings.toxiproxy_api_url
    bug(deployable, on)
    try:
        with ThreadPoolExecutor(1) as pool:
            poll = pool.submit(
                requests.get, f"{deployable.settings.shop_url}/stock/changes?timeout_s=25",
                timeout=40,
            )  # fmt: skip
            eventually(
                lambda: metric(proxy_api, "toxiproxy_proxy_active_connections", "shop") > 0,
                "the poll to be held",
            )
            Deploy(service="app").apply(FaultContext.for_stack(deployable))
            try:
                outcome = str(poll.result().status_code)
            except requests.ConnectionError:
                outcome = "no answer"
    finally:
        bug(deployable, False)
    assert outcome == ("no answer" if on else "200")
