"""Shoppers: one Locust user class per journey, as scenarios and `make load` drive them.

Each concrete user class is a journey a scenario's load may name (chaos.scenarios.journeys reads
them from this file; its docstring says what that shopper does). Requests are named by route
template, as the shop's metrics name them; product ids are the seed's, users the seed's five.
"""

from __future__ import annotations

import random
import time
import uuid
from random import randint

import gevent
from locust import FastHttpUser, between, task
from locust.contrib.fasthttp import FastResponse

from scenarios._shopping import (
    CUSTOMER_IDS,
    GREEDY_QUANTITY,
    HOT_MIN_STOCK,
    HOT_PAGE_SIZE,
    HOT_PRODUCTS,
    HOT_WINDOW_S,
    MOBILE_RETRIES,
    MOBILE_TIMEOUT_S,
    SEED_PRODUCTS,
    USER_IDS,
    any_product,
    expect,
    popular_product,
)
from target_app.public import ADJECTIVES, CATEGORIES, NOUNS


class Shopper(FastHttpUser):
    """What every journey shares: think time, carts, and a new connection for every request.

    A kept-alive connection stays with the gunicorn worker that accepted it; closing each one
    spreads the requests over every worker, as many people behind a load balancer do.
    """

    abstract = True
    wait_time = between(0.5, 2.0)
    default_headers = {"Connection": "close"}  # noqa: RUF012 (Locust's own attribute)

    def new_cart(self, items: list[tuple[int, int]]) -> int | None:
        """Create a cart for a random user holding (product, quantity) in that order."""
        with self.client.post(
            "/carts", json={"user_id": random.choice(USER_IDS)}, name="/carts", catch_response=True
        ) as response:
            if not expect(response, 201):
                return None
            cart_id = int(response.json()["id"])
        for product_id, quantity in items:
            with self.client.post(
                f"/carts/{cart_id}/items",
                json={"product_id": product_id, "quantity": quantity},
                name="/carts/<id>/items",
                catch_response=True,
            ) as response:
                if not expect(response, 200):
                    return None
        return cart_id

    def checkout(
        self, cart_id: int, *, ok: tuple[int, ...] = (201, 409), key: str | None = None
    ) -> FastResponse | None:
        """Check a cart out; 409 (out of stock) is a shop's honest answer, not a failure."""
        headers = {"Idempotency-Key": key} if key else None
        name = "/carts/<id>/checkout" + (" [idempotency key]" if key else "")
        with self.client.post(
            f"/carts/{cart_id}/checkout", name=name, headers=headers, catch_response=True
        ) as response:
            return response if expect(response, *ok) else None


class Browser(Shopper):
    """Looks around: catalog pages, searches and product details."""

    weight = 10

    @task(3)
    def browse(self) -> None:
        params = f"page={random.randint(1, 10)}&per_page=20"
        if random.random() < 0.3:
            params += f"&category={random.choice(CATEGORIES)}"
        if random.random() < 0.3:
            params += "&sort=" + random.choice(("price", "-price", "name"))
        self.client.get(f"/products?{params}", name="/products")

    @task(2)
    def search(self) -> None:
        word = random.choice((*ADJECTIVES, *NOUNS))
        self.client.get(f"/products/search?q={word}", name="/products/search")

    @task(4)
    def product_detail(self) -> None:
        self.client.get(f"/products/{popular_product()}", name="/products/<id>")


class SimilarViewer(Shopper):
    """Looks at a product, then at the products like it ("you may also like")."""

    weight = 1

    @task
    def view_with_similar(self) -> None:
        product_id = popular_product()
        self.client.get(f"/products/{product_id}", name="/products/<id>")
        self.client.get(f"/products/{product_id}/similar", name="/products/<id>/similar")


class CartBuilder(Shopper):
    """Fills a cart, looks at it, changes their mind about one item, and leaves."""

    weight = 2

    @task
    def build_and_abandon(self) -> None:
        products = random.sample(range(1, SEED_PRODUCTS + 1), k=min(3, SEED_PRODUCTS))
        cart_id = self.new_cart([(p, random.randint(1, 2)) for p in products])
        if cart_id is None:
            return
        self.client.get(f"/carts/{cart_id}", name="/carts/<id>")
        self.client.delete(f"/carts/{cart_id}/items/{products[0]}", name="/carts/<id>/items/<id>")


class Buyer(Shopper):
    """Buys one to three products and looks at the order."""

    weight = 4

    def buy(self, key: str | None) -> None:
        products = random.sample(range(1, SEED_PRODUCTS + 1), k=min(randint(1, 3), SEED_PRODUCTS))
        cart_id = self.new_cart([(p, 1) for p in products])
        if cart_id is None:
            return
        response = self.checkout(cart_id, key=key)
        if response is not None and response.status_code == 201:
            self.client.get(f"/orders/{response.json()['id']}", name="/orders/<id>")

    @task(3)
    def checkout_plain(self) -> None:
        self.buy(key=None)

    @task(1)
    def checkout_with_idempotency_key(self) -> None:
        self.buy(key=str(uuid.uuid4()))


class MobileBuyer(Shopper):
    """Buys one product now from a phone app: gives up on an answer after 2 s, retries twice.

    Like a real mobile client, each purchase gets one Idempotency-Key, and a retry of a
    purchase whose answer never came (a timeout, a dropped connection) sends the same key.
    """

    weight = 1
    wait_time = between(0.5, 1.5)
    network_timeout = MOBILE_TIMEOUT_S  # FastHttpUser's wait for an answer, per request

    @task
    def buy_now(self) -> None:
        body = {"user_id": random.choice(USER_IDS), "product_id": any_product(), "quantity": 1}
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        for attempt in range(1 + MOBILE_RETRIES):
            name = "/orders [buy now]" if attempt == 0 else "/orders [buy now, retried]"
            with self.client.post("/orders", json=body, headers=headers, name=name,
                                  catch_response=True) as response:  # fmt: skip
                if response.status_code == 0:  # no answer in time: the app tries again
                    response.failure(f"no answer within {MOBILE_TIMEOUT_S:g} s")
                    continue
                # 200: a retry got the order its first attempt placed; 409: out of stock.
                expect(response, 200, 201, 409)
                return


class HistoryReader(Shopper):
    """Reads a regular customer's order history, then one of the orders in it."""

    weight = 2

    @task
    def history(self) -> None:
        user_id = random.choice(CUSTOMER_IDS)
        with self.client.get(
            f"/users/{user_id}/orders?per_page=10", name="/users/<id>/orders", catch_response=True
        ) as response:
            if not expect(response, 200):
                return
            orders = response.json()["items"]
        if orders:
            self.client.get(f"/orders/{random.choice(orders)['id']}", name="/orders/<id>")


class StockWatcher(Shopper):
    """Listens to the stock stream for a few events or a few seconds, then hangs up."""

    weight = 1
    wait_time = between(1.0, 3.0)

    @task
    def listen(self) -> None:
        limit = random.randint(1, 5)
        # Reported when the headers arrive (the block ends); the events are read afterwards.
        with self.client.get(
            f"/stream/stock?limit={limit}", name="/stream/stock", stream=True, catch_response=True
        ) as response:
            connected = expect(response, 200)
        raw = response._response  # the geventhttpclient response, to hang up early
        if not connected or raw is None:
            return
        try:
            with gevent.Timeout(random.uniform(2.0, 6.0), False):
                for _chunk in response.iter_content(chunk_size=1024):
                    pass  # until `limit` events end the stream, or the timeout
        finally:
            # An unfinished stream's connection is closed, not reused for the next request.
            raw.release()


class HotShopper(Shopper):
    """A shopper interested in this moment's few hot products, the same for every one of them."""

    abstract = True

    def on_start(self) -> None:
        self.window: int | None = None
        self.hot: list[int] = []

    def hot_products(self) -> list[int]:
        """Return the hot products of this time window (one catalog read per window)."""
        window = int(time.time() // HOT_WINDOW_S)
        if window != self.window:
            page = window % max(1, SEED_PRODUCTS // HOT_PAGE_SIZE) + 1
            with self.client.get(
                f"/products?in_stock=true&page={page}&per_page={HOT_PAGE_SIZE}",
                name="/products",
                catch_response=True,
            ) as response:
                if not expect(response, 200):
                    return []
                items = response.json()["items"]
            self.window = window
            self.hot = [
                p["id"] for p in items if p["stock"] >= HOT_MIN_STOCK and p["id"] <= SEED_PRODUCTS
            ][:HOT_PRODUCTS]
        return self.hot


class ContendedBuyer(HotShopper):
    """Buys two or three of this moment's hot products, in random order, one unit each."""

    weight = 1
    wait_time = between(0.5, 1.5)

    @task
    def buy_hot(self) -> None:
        hot = self.hot_products()
        if len(hot) < 2:
            return
        products = random.sample(hot, k=min(len(hot), randint(2, 3)))
        cart_id = self.new_cart([(p, 1) for p in products])
        if cart_id is not None:
            self.checkout(cart_id)


class Merchant(HotShopper):
    """Syncs the price of a hot product with the pricing service now and then."""

    weight = 1
    wait_time = between(1.0, 2.0)

    @task
    def reprice_hot(self) -> None:
        hot = self.hot_products()
        if not hot:
            return
        with self.client.post(
            f"/products/{random.choice(hot)}/reprice",
            name="/products/<id>/reprice",
            catch_response=True,
        ) as response:
            # 409: another merchant changed the price meanwhile; the shop said so, no failure.
            expect(response, 200, 409)


class GreedyBuyer(Shopper):
    """Asks for more units than the shop has and, refused (409), soon tries again."""

    weight = 1
    wait_time = between(0.2, 0.8)

    @task
    def buy_too_many(self) -> None:
        cart_id = self.new_cart([(any_product(), GREEDY_QUANTITY)])
        if cart_id is not None:
            self.checkout(cart_id, ok=(409,))
