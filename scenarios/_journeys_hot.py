"""Journeys that contend for the same few products (the locustfile imports them)."""

from __future__ import annotations

import random
import time
from random import randint

from locust import between, task

from scenarios._shopper import Shopper
from scenarios._shopping import (
    GREEDY_QUANTITY,
    HOT_MIN_STOCK,
    HOT_PAGE_SIZE,
    HOT_PRODUCTS,
    HOT_WINDOW_S,
    SEED_PRODUCTS,
    any_product,
    expect,
)


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
