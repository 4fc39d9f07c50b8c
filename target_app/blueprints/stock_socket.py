"""Live stock updates over a WebSocket (flask-sock), read from the relay's events stream.

The socket is one-way: the server sends JSON text messages, the client sends
nothing. The first is the hello, saying how long a client should wait before
it reconnects (`{"type": "hello", "retry_ms": N}`); then one message per order:
`{"type": "stock", "id": ENTRY_ID, "changes": [{"id", "product_id", "stock"}, ...]}`.
A client that reconnects with `?after=ENTRY_ID` gets what it missed first. With
the bug switch `stream_without_resume` (target_app.live_feed) the messages have no
top-level id, `after` is ignored and the hello says to come back at once.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, request
from flask_sock import Sock
from redis.exceptions import RedisError
from simple_websocket import Server

from target_app import live_feed, shutdown
from target_app.instrumentation import metrics
from target_app.redis_client import make_redis

log = logging.getLogger(__name__)

bp = Blueprint("stock_socket", __name__)
sock = Sock()

#: A socket looks at the draining flag and at its client at least this often.
SLICE_MS = 500
#: Close codes (RFC 6455): the server is restarting; the server hit a condition it cannot serve.
SERVICE_RESTART = 1012
INTERNAL_ERROR = 1011


@sock.route("/ws/stock", bp=bp)
def stock_socket(ws: Server) -> None:
    """Send stock changes as they happen, after `?after=ENTRY_ID` when the client names one."""
    settings = current_app.extensions["settings"]
    switches = current_app.extensions["switches"]
    after = request.args.get("after")
    resume = live_feed.resumes(switches)
    redis = make_redis(settings, read_timeout_s=None)
    metrics.WEBSOCKETS_OPEN.inc()
    try:
        cursor = live_feed.start_cursor(redis, settings.events_stream, after, resume=resume)
        resumed = cursor == after
        metrics.LIVE_CONNECTIONS.labels(transport="websocket", resumed=str(resumed).lower()).inc()
        ws.send(json.dumps({"type": "hello", "retry_ms": live_feed.retry_ms(switches)}))
        while ws.connected and not shutdown.draining.is_set():
            batches, cursor = live_feed.read(redis, settings.events_stream, cursor, SLICE_MS)
            for batch in batches:
                ws.send(json.dumps(_message(batch, with_id=resume)))
        if shutdown.draining.is_set():
            ws.close(reason=SERVICE_RESTART, message="the server is restarting")
    except RedisError as exc:
        log.error("stock socket lost Redis", extra={"error": str(exc)})
        ws.close(reason=INTERNAL_ERROR, message="Redis unreachable")
    except OSError:
        pass  # the client's connection is gone (reset, broken pipe): nothing to close
    finally:
        metrics.WEBSOCKETS_OPEN.dec()
        redis.close()


def _message(batch: live_feed.Batch, *, with_id: bool) -> dict[str, object]:
    # BUG (stream_without_resume): without the id a reconnecting client cannot say where it was.
    head: dict[str, object] = {"type": "stock", "id": batch.id} if with_id else {"type": "stock"}
    return {**head, "changes": [change.as_dict() for change in batch.changes]}
