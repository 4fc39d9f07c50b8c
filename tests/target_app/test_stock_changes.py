"""GET /stock/changes: the long-poll over the relay's events stream."""

from __future__ import annotations

import gevent
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis

from target_app import shutdown
from tests.target_app.live_events import other_event, placed


def test_a_poll_after_a_cursor_gets_the_changes_since(
    stream_app: Flask, redis_client: Redis
) -> None:
    first = placed(redis_client, stream_app, (1, 10))
    other_event(redis_client, stream_app)
    second = placed(redis_client, stream_app, (2, 7), (3, 0))
    answer = stream_app.test_client().get(f"/stock/changes?after={first}&timeout_s=5")
    assert answer.status_code == 200
    assert answer.json == {
        "changes": [
            {"id": second, "product_id": 2, "stock": 7},
            {"id": second, "product_id": 3, "stock": 0},
        ],
        "next": second,
    }


def test_a_poll_is_held_until_a_change_arrives(stream_app: Flask, redis_client: Redis) -> None:
    client = stream_app.test_client()
    cursor = client.get("/stock/changes?timeout_s=0").json["next"]
    waiting = gevent.spawn(client.get, f"/stock/changes?after={cursor}&timeout_s=20")
    gevent.sleep(0.3)
    assert not waiting.ready()  # nothing new yet: held
    other_event(redis_client, stream_app)  # not a stock change: still held
    gevent.sleep(0.3)
    assert not waiting.ready()
    change = placed(redis_client, stream_app, (4, 2))
    answer = waiting.get(timeout=10)
    assert answer.json == {"changes": [{"id": change, "product_id": 4, "stock": 2}], "next": change}


def test_without_a_change_it_answers_none_after_the_timeout(
    stream_app: Flask, redis_client: Redis
) -> None:
    last = other_event(redis_client, stream_app)
    answer = stream_app.test_client().get("/stock/changes?timeout_s=0.2")
    assert answer.status_code == 200
    assert answer.json == {"changes": [], "next": last}


def test_a_draining_worker_answers_held_polls_at_once(stream_app: Flask) -> None:
    client = stream_app.test_client()
    waiting = gevent.spawn(client.get, "/stock/changes?timeout_s=30")
    gevent.sleep(0.3)
    assert not waiting.ready()
    shutdown.draining.set()
    try:
        answer = waiting.get(timeout=10)  # within a slice, not after 30 s
    finally:
        shutdown.draining.clear()
    assert answer.status_code == 200 and answer.json["changes"] == []


#: Polls the shop refuses with 422: a cursor that is no stream id, a wait out of range.
BAD_POLLS = (
    "after=nonsense",
    "after=1-2-3",
    "timeout_s=31",
    "timeout_s=-1",
    "timeout_s=soon",
    "x=1",
)


def test_bad_polls_are_refused(client: FlaskClient) -> None:
    answers = {query: client.get(f"/stock/changes?{query}") for query in BAD_POLLS}
    assert {q: a.status_code for q, a in answers.items()} == dict.fromkeys(BAD_POLLS, 422)
    assert all(a.json["error"] for a in answers.values())
