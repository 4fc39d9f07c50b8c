"""Open SSE streams and reconnects: in the app, and through gunicorn when a client goes away."""

from __future__ import annotations

import time

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis

from chaos.stack.manager import Stack
from target_app.instrumentation.buffered_values import FLUSH_INTERVAL_S
from tests.conftest import eventually
from tests.target_app.live_events import placed
from tests.target_app.metrics_text import value

OPEN = "shop_sse_streams_open"
RECONNECTS = "shop_sse_reconnects_total"


def scrape(client: FlaskClient) -> str:
    return client.get("/metrics").get_data(as_text=True)


def test_a_stream_is_open_from_its_first_byte_until_it_is_closed(client: FlaskClient) -> None:
    before = value(scrape(client), OPEN)
    response = client.get("/stream/stock", buffered=False)
    chunks = response.iter_encoded()
    assert next(chunks).startswith(b": connected\nretry: ")
    assert value(scrape(client), OPEN) == before + 1
    response.close()  # what the server does when the client disconnects: GeneratorExit
    assert value(scrape(client), OPEN) == before


def test_a_stream_that_ends_is_no_longer_open(stream_app: Flask, redis_client: Redis) -> None:
    client = stream_app.test_client()
    before = value(scrape(client), OPEN)
    response = client.get("/stream/stock?limit=1", buffered=False)
    chunks = response.iter_encoded()
    assert next(chunks).startswith(b": connected\n")
    entry = placed(redis_client, stream_app, (-1, 0))
    body = b"".join(chunks)  # the limit reached, the generator returns
    event = f'id: {entry}\nevent: stock\ndata: {{"id": "{entry}", "product_id": -1, "stock": 0}}'
    assert event.encode() in body
    assert value(scrape(client), OPEN) == before
    response.close()


@pytest.mark.parametrize(("headers", "reconnects"), [({"Last-Event-ID": "7"}, 1), ({}, 0)])
def test_a_stream_opened_with_last_event_id_is_a_reconnect(
    client: FlaskClient, headers: dict[str, str], reconnects: int
) -> None:
    before = value(scrape(client), RECONNECTS)
    response = client.get("/stream/stock", headers=headers, buffered=False)
    assert next(response.iter_encoded()).startswith(b": connected\n")
    response.close()
    assert value(scrape(client), RECONNECTS) == before + reconnects


@pytest.mark.slow
def test_gunicorn_closes_the_stream_of_a_client_that_left(stack: Stack) -> None:
    stack_metrics = f"{stack.settings.app_url}/metrics"

    def open_streams() -> float:
        return value(requests.get(stack_metrics, timeout=5).text, OPEN)

    def reconnects() -> float:
        return value(requests.get(stack_metrics, timeout=5).text, RECONNECTS)

    time.sleep(2 * FLUSH_INTERVAL_S)  # what earlier tests counted has reached the files
    before_open, before_reconnects = open_streams(), reconnects()
    stream = requests.get(
        f"{stack.settings.app_url}/stream/stock",
        headers={"Last-Event-ID": "3"},
        stream=True,
        timeout=20,
    )
    assert next(stream.iter_lines(chunk_size=1, decode_unicode=True)) == ": connected"
    # Summed over the gunicorn workers; the counter is merged with the RQ workers' and relay's,
    # whose increments reach their files within a flush interval.
    eventually(lambda: open_streams() == before_open + 1, "the open stream to be counted")
    eventually(lambda: reconnects() == before_reconnects + 1, "the reconnect to be counted")

    stream.close()  # the client leaves; the server notices at its next write

    # The stream's next keepalive (within sse_heartbeat_s) finds the client gone.
    eventually(lambda: open_streams() == before_open, "the server to close the stream")
