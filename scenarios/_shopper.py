"""The shoppers' common ground: think time, carts, checkout, a new connection per request."""

from __future__ import annotations

import random

from locust import FastHttpUser, between
from locust.contrib.fasthttp import FastResponse

from scenarios._shopping import USER_IDS, expect


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
