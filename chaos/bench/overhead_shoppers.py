"""Locust users for `make bench-overhead`: one per measured route group, no think time.

Run by chaos.bench.overhead, which picks the class on Locust's command line.
"""

from __future__ import annotations

import random

from locust import FastHttpUser, task

from target_app.public import CUSTOMER_ID_BASE, CUSTOMERS, DEMO_PASSWORD, customer_email

#: Product ids the seed creates (1000 products by default); the bench seeds at least this many.
PRODUCT_IDS = range(1, 201)


class CatalogShopper(FastHttpUser):
    """Browses: a catalog page, then a product's detail."""

    @task(1)
    def catalog_page(self) -> None:
        self.client.get(f"/products?page={random.randint(1, 10)}&per_page=20", name="/products")

    @task(2)
    def product_detail(self) -> None:
        self.client.get(f"/products/{random.choice(PRODUCT_IDS)}", name="/products/<id>")


class CheckoutShopper(FastHttpUser):
    """Buys: a cart, one item, a checkout (three requests an order), logged in first."""

    def on_start(self) -> None:
        email = customer_email(CUSTOMER_ID_BASE + random.randint(1, CUSTOMERS))
        login = {"email": email, "password": DEMO_PASSWORD}
        pair = self.client.post("/auth/login", json=login, name="/auth/login").json()
        self.client.auth_header = f"Bearer {pair['access_token']}"

    @task
    def buy(self) -> None:
        cart = self.client.post("/carts", name="/carts")
        cart_id = cart.json()["id"]
        self.client.post(
            f"/carts/{cart_id}/items",
            json={"product_id": random.choice(PRODUCT_IDS), "quantity": 1},
            name="/carts/<id>/items",
        )
        self.client.post(f"/carts/{cart_id}/checkout", name="/carts/<id>/checkout")
