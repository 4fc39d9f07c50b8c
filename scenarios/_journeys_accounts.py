"""Journeys about accounts (the locustfile imports them)."""

from __future__ import annotations

import uuid

from locust import between, task

from scenarios._shopper import Shopper
from scenarios._shopping import expect

#: The address a credential-stuffing run comes from (a documentation range, RFC 5737):
#: sent as X-Forwarded-For, as the load balancer the stack's proxy stands for would.
STUFFING_ADDRESS = "203.0.113.10"


class CredentialStuffer(Shopper):
    """Tries email and password pairs leaked from another site, one after another.

    Most of the emails have no account here; every attempt fails (401), or is refused
    for its rate (429): both are the shop's honest answers. It comes from an address of
    its own, so the shoppers' own logins are not counted against its limit.
    """

    weight = 1
    wait_time = between(0.1, 0.3)

    def client_address(self) -> str:
        return STUFFING_ADDRESS

    @task
    def try_a_leaked_pair(self) -> None:
        body = {"email": f"{uuid.uuid4().hex[:12]}@leaked.example", "password": uuid.uuid4().hex}
        with self.client.post(
            "/auth/login",
            json=body,
            name="/auth/login [stuffing]",
            catch_response=True,
        ) as response:
            expect(response, 401, 429)
