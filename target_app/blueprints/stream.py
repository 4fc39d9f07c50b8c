"""A live stock stream over Server-Sent Events, read from the relay's events stream.

Every event carries its entry's id in the stream (with the fix also as the SSE
`id:`), so a client that reconnects with `Last-Event-ID` gets what it missed;
the first lines say how long a client should wait before reconnecting (`retry:`).
See target_app.live_feed for the bug switch `stream_without_resume`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import NoReturn

from flask import Blueprint, Response, current_app, request, stream_with_context
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError
from spectree import Response as Resp
from werkzeug.exceptions import HTTPException

from target_app import live_feed, shutdown
from target_app.api import api, errors
from target_app.errors import Unavailable
from target_app.instrumentation import metrics
from target_app.redis_client import make_redis

log = logging.getLogger(__name__)

bp = Blueprint("stream", __name__)

#: A stream looks at the draining flag (a graceful shutdown) at least this often.
SLICE_S = 0.5


class StreamQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int | None = Field(None, ge=1, le=10_000, description="Close after this many events.")


@bp.get("/stream/stock")
@api.validate(
    query=StreamQuery,
    resp=Resp(HTTP_200=(None, "Server-Sent Events"), **errors(503)),
    tags=["stream"],
)
def stock_stream() -> NoReturn:
    """Stream stock changes as `event: stock` Server-Sent Events; a client reconnecting with
    `Last-Event-ID` gets the changes it missed first."""
    settings = current_app.extensions["settings"]
    switches = current_app.extensions["switches"]
    limit = request.context.query.limit  # type: ignore[attr-defined]
    last_event_id = request.headers.get("Last-Event-ID")
    resume = live_feed.resumes(switches)
    # A client of its own with no read timeout: the stream blocks on Redis between events.
    redis = make_redis(settings, read_timeout_s=None)
    try:
        cursor = live_feed.start_cursor(redis, settings.events_stream, last_event_id, resume=resume)
    except RedisError as exc:
        redis.close()
        log.error("stock stream unavailable", extra={"error": str(exc)})
        raise Unavailable("stock stream unavailable: Redis unreachable") from None
    if last_event_id is not None:
        metrics.SSE_RECONNECTS.inc()
    resumed = cursor == last_event_id
    metrics.LIVE_CONNECTIONS.labels(transport="sse", resumed=str(resumed).lower()).inc()
    retry_ms = live_feed.retry_ms(switches)
    block_ms = max(1, int(min(SLICE_S, settings.sse_heartbeat_s) * 1000))

    def events() -> Iterator[str]:
        nonlocal cursor
        sent = 0
        # Counted while the generator runs: its finally also runs when the
        # server closes it on a client disconnect (GeneratorExit at a yield).
        metrics.SSE_STREAMS_OPEN.inc()
        try:
            yield f": connected\nretry: {retry_ms}\n\n"
            quiet_since = time.monotonic()
            while (limit is None or sent < limit) and not shutdown.draining.is_set():
                batches, cursor = live_feed.read(redis, settings.events_stream, cursor, block_ms)
                if not batches:
                    if time.monotonic() - quiet_since >= settings.sse_heartbeat_s:
                        quiet_since = time.monotonic()
                        yield ": keepalive\n\n"
                    continue
                lines: list[str] = []
                for batch in batches:
                    changes = batch.changes[: None if limit is None else limit - sent]
                    for n, change in enumerate(changes, start=1):
                        # The id on an order's last change only: a client cut off within an
                        # order resumes before it, not after it.
                        lines.append(_event(change, with_id=resume and n == len(changes)))
                    sent += len(changes)
                quiet_since = time.monotonic()
                # One write per read: an order's changes reach the client together.
                yield "".join(lines)
        except RedisError as exc:
            log.error("stock stream lost Redis", extra={"error": str(exc)})
        finally:
            metrics.SSE_STREAMS_OPEN.dec()
            redis.close()

    response = Response(
        stream_with_context(events()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    # spectree reads a returned response's body to validate it, which would
    # drain this endless stream first; an exception carrying the response
    # hands it to Flask untouched (the HTTPException handler returns it).
    raise HTTPException(response=response)


def _event(change: live_feed.Change, *, with_id: bool) -> str:
    # The id makes a browser's EventSource send Last-Event-ID when it reconnects.
    # BUG (stream_without_resume): without it, a reconnecting client cannot say where it was.
    field = f"id: {change.id}\n" if with_id else ""
    return f"{field}event: stock\ndata: {json.dumps(change.as_dict())}\n\n"
