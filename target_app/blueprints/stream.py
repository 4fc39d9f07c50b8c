"""A live stock stream over Server-Sent Events, fed by the outbox relay through Redis pub/sub."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import NoReturn

from flask import Blueprint, Response, current_app, request, stream_with_context
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError
from spectree import Response as Resp
from werkzeug.exceptions import HTTPException

from target_app.api import api, errors
from target_app.errors import Unavailable
from target_app.instrumentation import metrics
from target_app.redis_client import make_redis

log = logging.getLogger(__name__)

bp = Blueprint("stream", __name__)


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
    """Stream stock changes as `event: stock` Server-Sent Events."""
    settings = current_app.extensions["settings"]
    limit = request.context.query.limit  # type: ignore[attr-defined]
    # A client of its own with no read timeout: the stream waits on pub/sub.
    redis = make_redis(settings, read_timeout_s=None)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(settings.stock_channel)
    except RedisError as exc:
        pubsub.close()
        redis.close()
        log.error("stock stream unavailable", extra={"error": str(exc)})
        raise Unavailable("stock stream unavailable: Redis unreachable") from None
    if "Last-Event-ID" in request.headers:
        metrics.SSE_RECONNECTS.inc()

    def events() -> Iterator[str]:
        sent = 0
        # Counted while the generator runs: its finally also runs when the
        # server closes it on a client disconnect (GeneratorExit at a yield).
        metrics.SSE_STREAMS_OPEN.inc()
        try:
            yield ": connected\n\n"
            while limit is None or sent < limit:
                message = pubsub.get_message(timeout=settings.sse_heartbeat_s)
                if message is None:
                    yield ": keepalive\n\n"
                    continue
                data = json.loads(message["data"])
                sent += 1
                # The id makes a browser's EventSource send Last-Event-ID when it reconnects.
                yield f"id: {sent}\nevent: stock\ndata: {json.dumps(data)}\n\n"
        except RedisError as exc:
            log.error("stock stream lost Redis", extra={"error": str(exc)})
        finally:
            metrics.SSE_STREAMS_OPEN.dec()
            pubsub.close()
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
