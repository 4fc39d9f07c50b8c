"""The shoppers' common ground: think time, an account, carts, checkout, a new connection per request."""

from __future__ import annotations

import random
import time

from locust import FastHttpUser, between
from locust.contrib.fasthttp import FastResponse

from scenarios._shopping import CUSTOMER_IDS, expect
from target_app.public import DEMO_PASSWORD, customer_email

#: An access token this close to expiring is renewed (with the refresh token) before use.
RENEW_BEFORE_S = 30.0


class Shopper(FastHttpUser):
    """What every journey shares: think time, an account, carts, and a new connection for
    every request.

    A kept-alive connection stays with the gunicorn worker that accepted it; closing each one
    spreads the requests over every worker, as many people behind a load balancer do.
    Each shopper is one of the seed's regular customers (a random one), logged in with the
    demo password the first time it needs its account, and refreshing its access token
    before it expires, as a shop's web app does. Each comes from an address of its own
    (sent as X-Forwarded-For, as the load balancer the stack's proxy stands for would): the
    shop's limits per client address count each shopper apart, as for people at home.
    """

    abstract = True
    wait_time = between(0.5, 2.0)
    default_headers = {"Connection": "close"}  # noqa: RUF012 (Locust's own attribute)

    def __init__(self, *args: object, **kwargs: object) -> None:
        # Before FastHttpUser's own __init__, which gives these headers to the client.
        address = self.client_address()
        self.default_headers = {**type(self).default_headers, "X-Forwarded-For": address}
        super().__init__(*args, **kwargs)
        self.account_id = random.choice(CUSTOMER_IDS)
        self._refresh_token: str | None = None
        self._renew_at = 0.0

    def client_address(self) -> str:
        """Return the address this shopper comes from (a private one, at random)."""
        return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"

    def signed_in(self) -> bool:
        """Make sure the shopper holds a live access token; False if the shop gave none."""
        if self.client.auth_header is not None and time.monotonic() < self._renew_at:
            return True
        if self._refresh_token is not None and self._token_call(
            "/auth/refresh", {"refresh_token": self._refresh_token}
        ):
            return True
        body = {"email": customer_email(self.account_id), "password": DEMO_PASSWORD}
        return self._token_call("/auth/login", body)

    def _token_call(self, path: str, body: dict[str, str]) -> bool:
        with self.client.post(path, json=body, name=path, catch_response=True) as response:
            if response.status_code == 401 and path == "/auth/refresh":
                response.success()  # the session ended (logged out, revoked): log in again
                self._refresh_token = None
                return False
            if not expect(response, 200):
                return False
            pair = response.json()
        self.client.auth_header = f"Bearer {pair['access_token']}"
        self._refresh_token = pair["refresh_token"]
        self._renew_at = time.monotonic() + pair["expires_in"] - RENEW_BEFORE_S
        return True

    def new_cart(self, items: list[tuple[int, int]]) -> int | None:
        """Create a cart of the shopper's holding (product, quantity) in that order."""
        if not self.signed_in():
            return None
        with self.client.post("/carts", name="/carts", catch_response=True) as response:
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
