"""Traffic and a fault the dashboard tests share: the PNG renderer's and the console's."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from redis import Redis
from rq import Queue, Retry
from selenium import webdriver

from chaos.errors import ToxiproxyNotFoundError
from chaos.stack.manager import Stack
from chaos.stack.services import services
from chaos.toxiproxy import ToxiproxyClient
from tests.conftest import login_headers
from tests.dashboards.chromium import chromium

TRAFFIC_S = 12.0
TOXIC = "dashboards_test_latency"


@dataclass(frozen=True)
class Observed:
    """When the traffic ran and when the latency toxic was on (Unix seconds)."""

    start: float
    toxic_on: float
    toxic_off: float
    end: float
    statuses: frozenset[int]


def _checkout(http: requests.Session, shop: str, product_id: int) -> int:
    """Buy one unit of a product (a seeded one: it has stock) and return the checkout's status."""
    created = http.post(f"{shop}/carts", timeout=10)
    assert created.status_code == 201, created.text
    cart = created.json()["id"]
    added = http.post(
        f"{shop}/carts/{cart}/items", json={"product_id": product_id, "quantity": 1}, timeout=10
    )
    assert added.status_code == 200, added.text
    return http.post(f"{shop}/carts/{cart}/checkout", timeout=10).status_code


@pytest.fixture(scope="package")
def observed(stack: Stack) -> Iterator[Observed]:
    """Drive shoppers through the shop proxy for a while, with a latency toxic in the middle."""
    if not any(s.name == "prometheus" for s in services(stack.settings)):
        pytest.skip("the stack runs no Prometheus service")
    settings = stack.settings
    shop = settings.shop_url
    toxiproxy = ToxiproxyClient(settings.toxiproxy_api_url)
    http = requests.Session()
    http.headers.update(login_headers(shop, user_id=2))
    statuses: set[int] = set()
    start = time.time()
    # A client coming back with Last-Event-ID: one open stream and one reconnect.
    stream = http.get(
        f"{shop}/stream/stock", headers={"Last-Event-ID": "1"}, stream=True, timeout=30
    )
    # One job that fails, is retried once, and fails for good.
    Queue("payments", connection=Redis.from_url(settings.redis_url)).enqueue(
        "builtins.int", "not a number", retry=Retry(max=1)
    )
    toxic_on = toxic_off = 0.0
    try:
        n = 0
        while (now := time.time()) < start + TRAFFIC_S:
            if not toxic_on and now > start + TRAFFIC_S * 0.3:
                toxiproxy.add_toxic("postgres", "latency", attributes={"latency": 30}, name=TOXIC)
                toxic_on = time.time()
            if toxic_on and not toxic_off and now > start + TRAFFIC_S * 0.7:
                toxiproxy.remove_toxic("postgres", TOXIC)
                toxic_off = time.time()
            n += 1
            product = n % 50 + 1
            for path, params in (
                ("/products", {"per_page": 5, "page": n % 5 + 1}),
                ("/products/search", {"q": "a"}),
                (f"/products/{product}", {}),
                ("/products/0", {}),  # 404
                ("/products", {"per_page": "many"}),  # 422
            ):
                statuses.add(http.get(f"{shop}{path}", params=params, timeout=10).status_code)
            if n % 3 == 0:
                statuses.add(_checkout(http, shop, product))
            time.sleep(0.1)
    finally:
        stream.close()
        with contextlib.suppress(ToxiproxyNotFoundError):
            toxiproxy.remove_toxic("postgres", TOXIC)
        http.close()
    yield Observed(start, toxic_on, toxic_off, time.time(), frozenset(statuses))


@pytest.fixture(scope="package")
def browser() -> Iterator[webdriver.Chrome]:
    """One headless Chromium for the console's browser tests."""
    with chromium() as driver:
        yield driver
