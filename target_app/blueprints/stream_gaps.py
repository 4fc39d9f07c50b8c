"""The live clients' reports of their reconnections: how many stock changes each one missed.

A client knows the id of every change it received (each change carries its
entry's id in the events stream), not what it missed: it reports the last id it
had before it lost its connection and the first it received after it
reconnected, as a page's real-user monitoring would (a beacon). The shop counts
the changes the stream holds strictly between the two: the ones the
reconnection did not deliver. A stream that resumes after the client's last
event leaves none; one that starts again from "now" leaves those published
while the client was away, and those cut off in flight.
"""

from __future__ import annotations

import logging
from typing import Literal

from flask import Blueprint, current_app, request
from pydantic import BaseModel, ConfigDict, Field
from redis import Redis
from redis.exceptions import RedisError
from spectree import Response as Resp

from target_app import live_feed
from target_app.api import api, errors
from target_app.errors import Unavailable
from target_app.instrumentation import metrics

log = logging.getLogger(__name__)

bp = Blueprint("stream_gaps", __name__)


class GapReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transport: Literal["sse", "websocket"]
    last_seen: str = Field(
        pattern=live_feed.STREAM_ID,
        description="The id of the last change the client had before its connection ended",
    )
    next_seen: str = Field(
        pattern=live_feed.STREAM_ID,
        description="The id of the first change it received after it reconnected",
    )


class GapCount(BaseModel):
    missed: int = Field(description="Stock changes published between the two ids")


@bp.post("/stream/gaps")
@api.validate(json=GapReport, resp=Resp(HTTP_200=GapCount, **errors(503)), tags=["stream"])
def report_gap() -> GapCount:
    """Report a reconnection of a live stock client; the answer says how many changes it
    missed (counted in `shop_live_updates_missed_total`)."""
    report: GapReport = request.context.json  # type: ignore[attr-defined]
    settings = current_app.extensions["settings"]
    redis: Redis = current_app.extensions["redis"]
    try:
        missed = live_feed.changes_between(
            redis, settings.events_stream, report.last_seen, report.next_seen
        )
    except RedisError as exc:
        log.error("stream gap not counted", extra={"error": str(exc)})
        raise Unavailable("stream gaps cannot be counted: Redis unreachable") from None
    metrics.LIVE_GAPS_REPORTED.labels(transport=report.transport).inc()
    if missed:
        metrics.LIVE_UPDATES_MISSED.labels(transport=report.transport).inc(missed)
        log.warning(
            "live client missed stock changes",
            extra={"transport": report.transport, "missed": missed, "after": report.last_seen},
        )
    return GapCount(missed=missed)
