"""Fixtures of the shop's own tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from redis import Redis

from tests.conftest import AppFactory


@pytest.fixture
def stream_app(make_app: AppFactory, redis_client: Redis) -> Iterator[Flask]:
    """A shop whose events stream is the test's own (deleted afterwards)."""
    name = f"test:events:{uuid.uuid4().hex[:8]}"
    yield make_app(events_stream=name)
    redis_client.delete(name)
