"""The live stock updates' one source: the relay's events stream in Redis.

Each `order.placed` event carries its products' stock after the order. The
long-poll (blueprints/stock_changes.py), the Server-Sent Events stream
(blueprints/stream.py) and the WebSocket (blueprints/stock_socket.py) read it
the same way: from a cursor (an entry's id: milliseconds and a sequence
number), in short blocking reads, so every client can resume after the last
event it saw, and the stream keeps what a client missed while it was away.

How clients reconnect is the server's to say (SSE's `retry:` field, the
WebSocket's hello): the `stream_without_resume` switch picks the bug or the fix.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any

from redis import Redis

from target_app.switches import SwitchBoard

#: A Redis stream entry id: milliseconds and a sequence number. Redis keeps each in 64 bits;
#: 19 digits always fit (a millisecond clock needs 13), so every id the pattern lets through is
#: one Redis takes, and the OpenAPI document says exactly what is accepted.
STREAM_ID = r"^[0-9]{1,19}-[0-9]{1,19}$"
_STREAM_ID = re.compile(STREAM_ID)
BATCH = 100
SWITCH = "stream_without_resume"
#: The fix's reconnection delay before jitter: clients wait 0.5-1.5 times this.
RETRY_MS = 1000
#: The most stream entries one missed-updates count reads.
GAP_SCAN_LIMIT = 10_000


@dataclass(frozen=True)
class Change:
    """One product's stock after an order: `id` is its event's entry id in the stream."""

    id: str
    product_id: int
    stock: int

    def as_dict(self) -> dict[str, Any]:
        """Return the change as the clients receive it (JSON)."""
        return {"id": self.id, "product_id": self.product_id, "stock": self.stock}


@dataclass(frozen=True)
class Batch:
    """The changes of one stream entry (one order), sent together under one id."""

    id: str
    changes: tuple[Change, ...]


def is_stream_id(text: str | None) -> bool:
    """Return whether `text` is a stream entry id a client may resume after."""
    return text is not None and _STREAM_ID.match(text) is not None


def resumes(switches: SwitchBoard) -> bool:
    """Return whether the streams send ids and resume after them (the fix)."""
    return not switches.is_on(SWITCH)


def retry_ms(switches: SwitchBoard) -> int:
    """Return the reconnection delay to tell a client: 0 with the bug, a jittered second fixed.

    The jitter is the server's: clients cut at one moment (a proxy's restart)
    are told different delays, so they do not all come back at the same moment.
    """
    if not resumes(switches):
        # BUG: "reconnect at once, so the page never misses an update": a client cut off
        # comes straight back, again and again while the cut lasts, and every client cut
        # at the same moment comes back at the same moment.
        return 0
    return int(RETRY_MS * random.uniform(0.5, 1.5))


def latest_id(redis: Redis, stream: str) -> str:
    """Return the id of the stream's newest entry ("0-0" when it is empty): "from now on"."""
    newest = redis.xrevrange(stream, count=1)
    return _text(newest[0][0]) if newest else "0-0"


def start_cursor(redis: Redis, stream: str, asked: str | None, *, resume: bool) -> str:
    """Return where a new connection starts: after the id its client named (the fix), or now."""
    if resume and is_stream_id(asked):
        return str(asked)
    # BUG (stream_without_resume): from now on, whatever the client saw last.
    return latest_id(redis, stream)


def read(redis: Redis, stream: str, cursor: str, block_ms: int | None) -> tuple[list[Batch], str]:
    """Read the entries after `cursor` (waiting up to `block_ms` for one, None: not at all).

    Return the stock changes, one batch per order, and the new cursor: the last
    entry read, whatever its topic.
    """
    extra = {"block": block_ms} if block_ms else {}
    answer = redis.xread({stream: cursor}, count=BATCH, **extra)
    batches: list[Batch] = []
    for _stream, entries in answer or ():
        for entry_id, fields in entries:
            cursor = _text(entry_id)
            changes = _changes(cursor, fields)
            if changes:
                batches.append(Batch(id=cursor, changes=changes))
    return batches, cursor


def changes_between(redis: Redis, stream: str, after: str, before: str) -> int:
    """Return how many stock changes the stream holds strictly between two entry ids."""
    if _id_key(before) <= _id_key(after):
        return 0  # nothing between (and Redis refuses an exclusive range that is empty: `(0-0`)
    entries = redis.xrange(stream, f"({after}", f"({before}", count=GAP_SCAN_LIMIT)
    return sum(len(_changes(_text(entry_id), fields)) for entry_id, fields in entries)


def _id_key(entry_id: str) -> tuple[int, int]:
    milliseconds, sequence = entry_id.split("-")
    return int(milliseconds), int(sequence)


def _changes(entry_id: str, fields: dict[Any, Any]) -> tuple[Change, ...]:
    values = {_text(k): _text(v) for k, v in fields.items()}
    if values.get("topic") != "order.placed":
        return ()
    items = json.loads(values.get("payload", "{}")).get("items", [])
    return tuple(
        Change(id=entry_id, product_id=item["product_id"], stock=item["stock_after"])
        for item in items
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
