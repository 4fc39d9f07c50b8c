"""Journeys that listen to the shop's live stock updates (the locustfile imports them)."""

from __future__ import annotations

import random

import gevent
from locust import between, constant, task

from scenarios._shopper import Shopper
from scenarios._shopping import expect

#: How long the shop may hold a poll with no change to answer.
POLL_TIMEOUT_S = 10.0


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


class LongPoller(Shopper):
    """Follows stock changes by long-poll, as a page without EventSource does: one request
    always waiting, each answer's `next` the next poll's `after`."""

    weight = 1
    wait_time = constant(0)  # a long-poll client asks again as soon as it has an answer
    network_timeout = POLL_TIMEOUT_S + 5.0

    def on_start(self) -> None:
        self.cursor: str | None = None

    @task
    def poll(self) -> None:
        after = f"&after={self.cursor}" if self.cursor else ""
        with self.client.get(
            f"/stock/changes?timeout_s={POLL_TIMEOUT_S:g}{after}",
            name="/stock/changes",
            catch_response=True,
        ) as response:
            if expect(response, 200):
                self.cursor = response.json()["next"]
