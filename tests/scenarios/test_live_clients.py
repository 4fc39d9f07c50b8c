"""The live stock clients' behaviour (scenarios/_live_clients.py): waits, SSE parsing, gap reports."""

from __future__ import annotations

import random

import pytest

from scenarios._live_clients import (
    MAX_DELAY_S,
    EventStreamParser,
    GapReporter,
    ReconnectPolicy,
    change_ids,
)


def test_after_a_working_connection_the_wait_is_the_servers_delay() -> None:
    policy = ReconnectPolicy()
    assert policy.delay_s() == 3.0  # a browser's default until the server says
    policy.connected(840)
    assert policy.delay_s() == 0.84


def test_failed_attempts_double_the_wait_with_jitter_up_to_a_cap() -> None:
    random.seed(7)
    policy = ReconnectPolicy(retry_ms=1000)
    for failures, (low, high) in enumerate([(1.0, 3.0), (2.0, 6.0), (4.0, 12.0)], start=1):
        policy.failed()
        waits = {policy.delay_s() for _ in range(50)}
        assert all(low <= w < high for w in waits), (failures, sorted(waits))
        assert len(waits) > 40  # spread out: clients that failed together do not retry together
    for _ in range(20):
        policy.failed()
    assert policy.delay_s() < MAX_DELAY_S * 1.5
    policy.connected(None)
    assert policy.delay_s() == 1.0  # a connection that worked ends the backoff


def test_a_server_that_says_zero_gets_clients_back_at_once_however_often_they_fail() -> None:
    policy = ReconnectPolicy()
    policy.connected(0)
    for _ in range(5):
        policy.failed()
        assert policy.delay_s() == 0.0


def test_events_are_parsed_across_chunks_as_the_specification_says() -> None:
    parser = EventStreamParser()
    stream = b': connected\nretry: 1200\n\nid: 5-0\nevent: stock\ndata: {"id": "5-0"}\n\n: keep'
    events = [e for piece in (stream[:17], stream[17:40], stream[40:]) for e in parser.feed(piece)]
    assert [(e.event, e.id, e.retry_ms, e.data) for e in events] == [
        ("message", None, 1200, ""),
        ("stock", "5-0", None, '{"id": "5-0"}'),
    ]
    assert list(parser.feed("alive\n\n")) == []  # a comment alone is no event


@pytest.mark.parametrize(
    ("payload", "ids"),
    [
        ('{"id": "5-0", "product_id": 1, "stock": 3}', ["5-0"]),
        ('{"type": "stock", "changes": [{"id": "6-0"}, {"id": "6-0"}]}', ["6-0", "6-0"]),
        ('{"product_id": 1, "stock": 3}', []),
    ],
)
def test_change_ids_come_from_either_transports_messages(payload: str, ids: list[str]) -> None:
    assert change_ids(payload) == ids


def test_a_gap_is_reported_once_per_reconnection_and_kept_until_the_shop_takes_it() -> None:
    sent: list[tuple[str, str]] = []
    shop_up = False

    def report(last: str, first: str) -> bool:
        if shop_up:
            sent.append((last, first))
        return shop_up

    gaps = GapReporter(report)
    gaps.received("1-0")  # the first connection: nothing before it
    gaps.received("2-0")
    gaps.reconnecting()
    gaps.received("5-0")  # the shop cannot take the report yet
    assert (sent, gaps.unsent) == ([], [("2-0", "5-0")])
    gaps.received("6-0")  # no reconnection in between: no new gap
    shop_up = True
    gaps.reconnecting()
    gaps.received("6-0")  # the same order again (cut within it): no new gap; the old one is sent
    assert (sent, gaps.unsent) == ([("2-0", "5-0")], [])
