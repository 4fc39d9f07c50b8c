"""Journeys that start on the shop's front page (the locustfile imports them)."""

from __future__ import annotations

from locust import between, task

from scenarios._shopper import Shopper
from scenarios._shopping import popular_product


class Visitor(Shopper):
    """Lands on the front page (the best sellers), now and then opens a product from it."""

    weight = 2
    wait_time = between(0.05, 0.25)

    @task(4)
    def front_page(self) -> None:
        self.client.get("/products/highlights", name="/products/highlights")

    @task(1)
    def a_best_seller(self) -> None:
        self.client.get(f"/products/{popular_product()}", name="/products/<id>")
