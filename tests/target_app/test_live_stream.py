"""The live stock stream (SSE) with and without the `stream_without_resume` bug, and the clients'
gap reports (POST /stream/gaps): ids, `retry:`, resuming after Last-Event-ID, missed changes counted."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis

from target_app import live_feed
from target_app.switches import SwitchBoard
from tests.target_app.live_events import other_event, placed
from tests.target_app.metrics_text import value

MISSED = "shop_live_updates_missed_total"


def switched(app: Flask, bug: bool) -> Flask:
    switches: SwitchBoard = app.extensions["switches"]
    switches.set(live_feed.SWITCH, bug)
    return app


def opened(client: FlaskClient, headers: dict[str, str] | None = None) -> Iterator[bytes]:
    """Open the stream; return its chunks after the greeting."""
    response = client.get("/stream/stock?limit=2", headers=headers or {}, buffered=False)
    return response.iter_encoded()


def greeting_retry(chunks: Iterator[bytes]) -> int:
    first = next(chunks).decode()
    match = re.fullmatch(r": connected\nretry: ([0-9]+)\n\n", first)
    assert match, first
    return int(match[1])


def test_fixed_the_stream_says_wait_about_a_second_and_gives_each_order_its_id(
    stream_app: Flask, redis_client: Redis
) -> None:
    chunks = opened(switched(stream_app, bug=False).test_client())
    assert 500 <= greeting_retry(chunks) <= 1500
    entry = placed(redis_client, stream_app, (-1, 4), (-2, 9))
    body = b"".join(chunks).decode()
    # One id per order, on its last change: a client cut within an order resumes before it.
    assert body == (
        f'event: stock\ndata: {{"id": "{entry}", "product_id": -1, "stock": 4}}\n\n'
        f'id: {entry}\nevent: stock\ndata: {{"id": "{entry}", "product_id": -2, "stock": 9}}\n\n'
    )


def test_fixed_a_reconnection_gets_what_was_published_since_its_last_event(
    stream_app: Flask, redis_client: Redis
) -> None:
    seen = placed(redis_client, stream_app, (-1, 5))
    missed = placed(redis_client, stream_app, (-1, 4))
    other_event(redis_client, stream_app)
    also_missed = placed(redis_client, stream_app, (-1, 3))
    client = switched(stream_app, bug=False).test_client()
    chunks = opened(client, {"Last-Event-ID": seen})
    greeting_retry(chunks)
    body = b"".join(chunks).decode()
    assert re.findall(r"^id: (.+)$", body, re.M) == [missed, also_missed]


def test_with_the_bug_the_stream_says_come_back_at_once_and_starts_from_now(
    stream_app: Flask, redis_client: Redis
) -> None:
    seen = placed(redis_client, stream_app, (-1, 5))
    placed(redis_client, stream_app, (-1, 4))  # published while the client was away: lost
    client = switched(stream_app, bug=True).test_client()
    chunks = opened(client, {"Last-Event-ID": seen})
    assert greeting_retry(chunks) == 0
    first = placed(redis_client, stream_app, (-1, 3))
    second = placed(redis_client, stream_app, (-1, 2))
    body = b"".join(chunks).decode()
    assert "id:" not in body.replace('"id"', "")  # no SSE id field: nothing to resume from
    assert re.findall(r'"id": "([^"]+)"', body) == [first, second]


def test_a_last_event_id_that_is_no_entry_id_starts_from_now(
    stream_app: Flask, redis_client: Redis
) -> None:
    placed(redis_client, stream_app, (-1, 5))
    client = switched(stream_app, bug=False).test_client()
    before = value(client.get("/metrics").get_data(as_text=True), "shop_sse_reconnects_total")
    chunks = opened(client, {"Last-Event-ID": "7"})  # an older client's counter
    greeting_retry(chunks)
    first = placed(redis_client, stream_app, (-1, 4))
    placed(redis_client, stream_app, (-1, 3))
    assert f"id: {first}\n" in b"".join(chunks).decode()
    after = value(client.get("/metrics").get_data(as_text=True), "shop_sse_reconnects_total")
    assert after == before + 1  # still a client coming back


def test_a_gap_report_counts_the_changes_between_the_two_ids(
    stream_app: Flask, redis_client: Redis
) -> None:
    client = stream_app.test_client()
    last = placed(redis_client, stream_app, (-1, 9))
    placed(redis_client, stream_app, (-1, 8), (-2, 1))
    other_event(redis_client, stream_app)
    placed(redis_client, stream_app, (-1, 7))
    first = placed(redis_client, stream_app, (-1, 6))
    before = value(client.get("/metrics").get_data(as_text=True), MISSED, transport="websocket")
    report = {"transport": "websocket", "last_seen": last, "next_seen": first}
    answer = client.post("/stream/gaps", json=report)
    assert (answer.status_code, answer.json) == (200, {"missed": 3})
    assert (
        value(client.get("/metrics").get_data(as_text=True), MISSED, transport="websocket")
        == before + 3
    )
    # A reconnection that resumed: the next change is the one right after the last.
    resumed = {"transport": "websocket", "last_seen": first, "next_seen": first}
    assert client.post("/stream/gaps", json=resumed).json == {"missed": 0}
    # Ids the wrong way round, or both the stream's very first: nothing between, no error.
    for last_seen, next_seen in ((first, last), ("0-0", "0-0")):
        odd = {"transport": "sse", "last_seen": last_seen, "next_seen": next_seen}
        assert client.post("/stream/gaps", json=odd).json == {"missed": 0}


@pytest.mark.parametrize(
    "report",
    [
        {"transport": "carrier-pigeon", "last_seen": "1-0", "next_seen": "2-0"},
        {"transport": "sse", "last_seen": "1", "next_seen": "2-0"},
        {"transport": "sse", "last_seen": "1-0", "next_seen": "10000000000000000000-0"},
        {"transport": "sse", "last_seen": "1-0"},
        {"transport": "sse", "last_seen": "1-0", "next_seen": "2-0", "extra": 1},
    ],
)
def test_bad_gap_reports_are_refused(client: FlaskClient, report: dict[str, str]) -> None:
    answer = client.post("/stream/gaps", json=report)
    assert answer.status_code == 422, answer.json
