"""Journeys that listen to the shop's live stock updates (the locustfile imports them)."""

from __future__ import annotations

import contextlib
import json
import random
import re
import time
from collections.abc import Iterator

import gevent
from locust import between, constant, task
from simple_websocket import Client

from scenarios._live_clients import (
    DaemonThread,
    EventStreamParser,
    GapReporter,
    ReconnectPolicy,
    change_ids,
)
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


def report_gap(user: Shopper, transport: str, last_seen: str, next_seen: str) -> bool:
    """Send the page's beacon for one reconnection; return whether the shop took it."""
    with user.client.post(
        "/stream/gaps",
        json={"transport": transport, "last_seen": last_seen, "next_seen": next_seen},
        name="/stream/gaps",
        catch_response=True,
    ) as response:
        return expect(response, 200)


class StockStreamReader(Shopper):
    """Follows stock live over Server-Sent Events as a page's EventSource does: one stream
    open at a time; when it ends, waits the server's `retry:` (longer while attempts fail)
    and reconnects with the last event id it got (Last-Event-ID)."""

    weight = 1
    wait_time = constant(0)  # the wait between connections is the reconnect policy's
    # One connection at a time, as a page's EventSource: geventhttpclient tries a failed GET
    # again on a fresh connection up to its pool size + 1 times; with one, it tries once more.
    concurrency = 1

    def on_start(self) -> None:
        self.policy = ReconnectPolicy()
        self.last_event_id: str | None = None
        self.gaps = GapReporter(lambda last, first: report_gap(self, "sse", last, first))

    @task
    def follow(self) -> None:
        headers = {"Last-Event-ID": self.last_event_id} if self.last_event_id else None
        with self.client.get(
            "/stream/stock", name="/stream/stock", headers=headers, stream=True, catch_response=True
        ) as response:
            connected = expect(response, 200)
        raw = response._response  # the geventhttpclient response, closed when the stream ends
        if connected and raw is not None:
            self.policy.connected(None)  # EventSource's "open": the next wait is the plain delay
            try:
                # Line by line, as the server writes them: read(n) would wait for n bytes.
                self.read(iter(lambda: raw.readline(b"\n"), b""))
            except Exception:  # a cut stream (reset, EOF) ends like a closed one
                pass
            finally:
                raw.release()
        else:
            self.policy.failed()
        self.gaps.reconnecting()
        gevent.sleep(self.policy.delay_s())

    def read(self, chunks: Iterator[bytes]) -> None:
        parser = EventStreamParser()
        for chunk in chunks:
            for event in parser.feed(chunk):
                if event.retry_ms is not None:
                    self.policy.connected(event.retry_ms)
                if event.id is not None:
                    self.last_event_id = event.id
                if event.event == "stock":
                    for change_id in change_ids(event.data):
                        self.gaps.received(change_id)


class StockSocketReader(Shopper):
    """Follows stock live over the shop's WebSocket as its page's client does: one socket at a
    time; when it closes, waits the hello's `retry_ms` (longer while attempts fail) and
    reconnects after the last message id it got (`?after=`)."""

    weight = 1
    wait_time = constant(0)  # the wait between connections is the reconnect policy's

    def on_start(self) -> None:
        self.policy = ReconnectPolicy()
        self.after: str | None = None
        self.gaps = GapReporter(lambda last, first: report_gap(self, "websocket", last, first))

    @task
    def follow(self) -> None:
        url = re.sub(r"^http", "ws", self.host or "") + "/ws/stock"
        if self.after:
            url += f"?after={self.after}"
        start = time.perf_counter()
        try:
            socket = Client.connect(url, thread_class=DaemonThread)
        except Exception as exc:  # refused, reset, bad handshake: a failed attempt
            self.record(start, exc)
            self.policy.failed()
        else:
            self.record(start, None)
            try:
                self.read(socket)
            except Exception:  # closed or cut: the next attempt follows the policy
                pass
            finally:
                with contextlib.suppress(Exception):
                    socket.close()
        self.gaps.reconnecting()
        gevent.sleep(self.policy.delay_s())

    def read(self, socket: Client) -> None:
        while True:
            body = json.loads(socket.receive())
            if body.get("type") == "hello":
                self.policy.connected(int(body.get("retry_ms", 0)))
            elif body.get("type") == "stock":
                self.after = body.get("id", self.after)
                for change in body.get("changes", []):
                    self.gaps.received(str(change["id"]))

    def record(self, start: float, exc: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="WS",
            name="/ws/stock",
            response_time=(time.perf_counter() - start) * 1000,
            response_length=0,
            exception=exc,
            context={},
        )
