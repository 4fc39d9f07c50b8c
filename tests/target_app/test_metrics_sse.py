"""Open SSE streams and reconnects: in the app, and through gunicorn when a client goes away."""

from __future__ import annotations

import json
import time

import pytest
import requests
from flask.testing import FlaskClient
from redis import Redis

from chaos.stack.manager import Stack
from target_app.instrumentation.buffered_values import FLUSH_INTERVAL_S
from tests.conftest import AppFactory, eventually
from tests.target_app.metrics_text import value

OPEN = "shop_sse_streams_open"
RECONNECTS = "shop_sse_reconnects_total"


def scrape(client: FlaskClient) -> str:
    return client.get("/metrics").get_data(as_text=True)


def test_a_stream_is_open_from_its_first_byte_until_it_is_closed(client: FlaskClient) -> None:
    before = value(scrape(client), OPEN)
    response = client.get("/stream/stock", buffered=False)
    chunks = response.iter_encoded()
    assert next(chunks) == b": connected\n\n"
    assert value(scrape(client), OPEN) == before + 1
    response.close()  # what the server does when the client disconnects: GeneratorExit
    assert value(scrape(client), OPEN) == before


def test_a_stream_that_ends_is_no_longer_open(make_app: AppFactory, redis_client: Redis) -> None:
    client = make_app(sse_heartbeat_s=0.05).test_client()
    before = value(scrape(client), OPEN)
    response = client.get("/stream/stock?limit=1", buffered=False)
    chunks = response.iter_encoded()
    assert next(chunks) == b": connected\n\n"
    redis_client.publish("shop:stock", json.dumps({"product_id": -1, "stock": 0}))
    body = b"".join(chunks)  # the limit reached, the generator returns
    assert b'id: 1\nevent: stock\ndata: {"product_id": -1, "stock": 0}' in body
    assert value(scrape(client), OPEN) == before
    response.close()


@pytest.mark.parametrize(("headers", "reconnects"), [({"Last-Event-ID": "7"}, 1), ({}, 0)])
def test_a_stream_opened_with_last_event_id_is_a_reconnect(
    client: FlaskClient, headers: dict[str, str], reconnects: int
) -> None:
    before = value(scrape(client), RECONNECTS)
    response = client.get("/stream/stock", headers=headers, buffered=False)
    assert next(response.iter_encoded()) == b": connected\n\n"
    response.close()
    assert value(scrape(client), RECONNECTS) == before + reconnects


@pytest.mark.slow
def test_gunicorn_closes_the_stream_of_a_client_that_left(
    stack: Stack, redis_client: Redis
) -> None:
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

    def closed() -> bool:
        redis_client.publish("shop:stock", json.dumps({"product_id": -1, "stock": 0}))
        return open_streams() == before_open

    eventually(closed, "the server to close the stream of the client that left")
