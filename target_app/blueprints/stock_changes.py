"""Stock changes by long-poll: the live stock stream for clients without EventSource.

The source is the relay's events stream in Redis (the same events the stock SSE
stream is published from): each `order.placed` event carries its products' stock
after the order. A poll names the last event it saw (`after`, the previous answer's
`next`) and is held until a newer change arrives or `timeout_s` passes, in short
slices, so a shop worker shutting down gracefully answers its held polls at once
(target_app.shutdown.draining) instead of holding them past its graceful timeout.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, request
from pydantic import BaseModel, ConfigDict, Field
from redis import Redis
from redis.exceptions import RedisError
from spectree import Response as Resp

from target_app import live_feed, shutdown
from target_app.api import api, errors
from target_app.errors import Unavailable

log = logging.getLogger(__name__)

bp = Blueprint("stock_changes", __name__)

#: A held poll looks at the draining flag at least this often.
SLICE_S = 0.5


class StockChangesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: str | None = Field(
        None,
        pattern=live_feed.STREAM_ID,
        description="The `next` of the previous answer; without it, changes from now on.",
    )
    timeout_s: float = Field(20.0, ge=0, le=30, description="Longest wait for a change.")


class StockChange(BaseModel):
    id: str = Field(description="The event's id in the stream: a cursor")
    product_id: int
    stock: int = Field(description="The product's stock after the change")


class StockChanges(BaseModel):
    changes: list[StockChange]
    next: str = Field(description="The cursor to send as `after` in the next poll")


@bp.get("/stock/changes")
@api.validate(
    query=StockChangesQuery,
    resp=Resp(HTTP_200=StockChanges, **errors(503)),
    tags=["stream"],
)
def stock_changes() -> StockChanges:
    """Long-poll for stock changes: answered at the first change after `after`, or after
    `timeout_s` with none (poll again with `next`)."""
    query: StockChangesQuery = request.context.query  # type: ignore[attr-defined]
    settings = current_app.extensions["settings"]
    redis: Redis = current_app.extensions["redis"]
    deadline = time.monotonic() + query.timeout_s
    try:
        cursor = query.after or live_feed.latest_id(redis, settings.events_stream)
        while True:
            remaining = deadline - time.monotonic()
            block_ms = int(min(SLICE_S, remaining) * 1000)
            batches, cursor = live_feed.read(
                redis, settings.events_stream, cursor, block_ms if block_ms > 0 else None
            )
            if batches or block_ms <= 0 or shutdown.draining.is_set():
                changes = [
                    StockChange(id=c.id, product_id=c.product_id, stock=c.stock)
                    for batch in batches
                    for c in batch.changes
                ]
                return StockChanges(changes=changes, next=cursor)
    except RedisError as exc:
        log.error("stock changes unavailable", extra={"error": str(exc)})
        raise Unavailable("stock changes unavailable: Redis unreachable") from None
