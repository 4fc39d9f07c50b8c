"""What the shop's pages do to follow live stock: reconnect as told, and report what they missed.

A browser's EventSource waits the server's reconnection time (`retry:`, about
3 s until the server says) before it reconnects, sends the last event id it
got (`Last-Event-ID`), and may back off further while its attempts fail; the
shop's WebSocket client does the same with the hello's `retry_ms` and `?after=`.
Both listeners (scenarios/_journeys_live.py) behave this way whatever the
shop's switches: how fast they come back and whether they resume is the
shop's to say.

Every change a client receives carries its entry's id in the shop's events
stream; after each reconnection the page reports the last id it had and the
first it got (POST /stream/gaps, a real-user-monitoring beacon), and the shop
counts the changes between: the ones the client missed.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


class DaemonThread(threading.Thread):
    """A WebSocket's reader: it must not keep a process from exiting when a server never closes
    (simple-websocket's own thread is not a daemon)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, daemon=True, **kwargs)


#: A browser's reconnection time until the server sends `retry:` (Chromium's).
DEFAULT_RETRY_MS = 3000
#: The longest wait between two attempts, however many failed.
MAX_DELAY_S = 30.0


@dataclass
class ReconnectPolicy:
    """The wait before the next connection: the server's delay, doubled per failed attempt."""

    retry_ms: int = DEFAULT_RETRY_MS
    failures: int = 0

    def connected(self, retry_ms: int | None) -> None:
        """Note a connection that worked, and the delay its server asked for (if it did)."""
        self.failures = 0
        if retry_ms is not None:
            self.retry_ms = retry_ms

    def failed(self) -> None:
        """Note an attempt that did not get a working connection."""
        self.failures += 1

    def delay_s(self) -> float:
        """Return how long to wait before the next attempt.

        After a connection that worked: the server's delay as it is (the server
        adds its own jitter). After failed attempts: that delay doubled per
        failure, capped, times a random factor in [0.5, 1.5) so that clients
        that failed together do not retry together. A delay of 0 stays 0.
        """
        base = self.retry_ms / 1000
        if not self.failures:
            return base
        return min(MAX_DELAY_S, base * 2 ** min(self.failures, 10)) * random.uniform(0.5, 1.5)


#: Reports kept for a later try while the shop cannot take them.
MAX_UNSENT = 100


@dataclass
class GapReporter:
    """Follows the ids of the changes a client receives; reports each reconnection's gap.

    `report(last_seen, next_seen)` returns whether the shop took the report; one it
    did not take is tried again after the next change received (up to MAX_UNSENT).
    """

    report: Callable[[str, str], bool]
    last_seen: str | None = None
    reconnected: bool = False
    unsent: list[tuple[str, str]] = field(default_factory=list)

    def reconnecting(self) -> None:
        """Note that the connection ended: the next change received is after a reconnection."""
        self.reconnected = True

    def received(self, change_id: str) -> None:
        """Note a change received; the first after a reconnection reports the gap before it."""
        if self.reconnected and self.last_seen is not None and change_id != self.last_seen:
            self.unsent = [*self.unsent, (self.last_seen, change_id)][-MAX_UNSENT:]
        self.reconnected = False
        self.last_seen = change_id
        while self.unsent and self.report(*self.unsent[0]):
            self.unsent.pop(0)


@dataclass
class ServerSentEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None
    retry_ms: int | None = None


@dataclass
class EventStreamParser:
    """Server-Sent Events from a byte stream, as the WHATWG specification parses them."""

    buffer: str = ""
    pending: list[str] = field(default_factory=list)

    def feed(self, chunk: bytes | str) -> Iterator[ServerSentEvent]:
        """Yield every event (or bare `retry:` block) that the chunk completes."""
        self.buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in self.buffer:
            block, self.buffer = self.buffer.split("\n\n", 1)
            event = _parse(block)
            if event is not None:
                yield event


def _parse(block: str) -> ServerSentEvent | None:
    event = ServerSentEvent()
    data: list[str] = []
    seen = False
    for line in block.split("\n"):
        if not line or line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        seen = True
        if name == "data":
            data.append(value)
        elif name == "event":
            event.event = value
        elif name == "id":
            event.id = value
        elif name == "retry" and value.isdigit():
            event.retry_ms = int(value)
    event.data = "\n".join(data)
    return event if seen else None


def change_ids(payload: str) -> list[str]:
    """Return the ids of the changes in one stock event's or message's JSON."""
    body = json.loads(payload)
    changes = body.get("changes", [body]) if isinstance(body, dict) else []
    return [str(change["id"]) for change in changes if "id" in change]
