"""Shoppers: one Locust user class per journey, as scenarios and `make load` drive them.

Each concrete user class here, or imported here from the package's `_journeys_*` modules,
is a journey a scenario's load may name (chaos.scenarios.journeys reads them from this file
and the modules it imports them from; a class's docstring says what that shopper does).
Requests are named by route template, as the shop's metrics name them; product ids are the
seed's; each shopper is one of the seed's customers, logged in (scenarios._shopper).
"""

from __future__ import annotations

import random
import uuid
from random import randint

from locust import between, task

# Locust runs the user classes it finds in this module, imported ones too.
from scenarios._journeys_accounts import CredentialStuffer  # noqa: F401
from scenarios._journeys_home import Visitor  # noqa: F401
from scenarios._journeys_hot import ContendedBuyer, GreedyBuyer, Merchant  # noqa: F401
from scenarios._journeys_live import (  # noqa: F401
    LongPoller,
    StockSocketReader,
    StockStreamReader,
    StockWatcher,
)
from scenarios._journeys_search import Typer  # noqa: F401
from scenarios._shopper import Shopper
from scenarios._shopping import (
    MOBILE_RETRIES,
    MOBILE_TIMEOUT_S,
    SEED_PRODUCTS,
    any_product,
    expect,
    popular_product,
)
from target_app.public import ADJECTIVES, CATEGORIES, NOUNS


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
        if not self.signed_in():
            return
        body = {"product_id": any_product(), "quantity": 1}
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
    """Reads their order history (a regular customer's: thirty past orders), then one order."""

    weight = 2

    @task
    def history(self) -> None:
        if not self.signed_in():
            return
        with self.client.get(
            f"/users/{self.account_id}/orders?per_page=10",
            name="/users/<id>/orders",
            catch_response=True,
        ) as response:
            if not expect(response, 200):
                return
            orders = response.json()["items"]
        if orders:
            self.client.get(f"/orders/{random.choice(orders)['id']}", name="/orders/<id>")
