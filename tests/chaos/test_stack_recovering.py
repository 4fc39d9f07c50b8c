"""`up()` on a running stack that is still recovering from a fault waits for it, bounded."""

from __future__ import annotations

import time

import pytest

from chaos.faults import ProxyDown
from chaos.faults.injector import Injector
from chaos.stack import health
from chaos.stack.manager import Stack
from tests.conftest import eventually

pytestmark = pytest.mark.slow

REDIS_DOWN = ProxyDown(proxy="redis")


def relay_healthy(stack: Stack) -> bool:
    record = stack.running("relay")
    assert record is not None
    try:
        health.relay_ready(stack.settings, record.pid)
    except health.NotReady:
        return False
    return True


def test_up_waits_for_a_relay_backing_off_after_a_redis_outage(stack: Stack) -> None:
    injector = Injector(stack)
    with REDIS_DOWN.applied(injector.ctx):
        # Long enough for the relay's heartbeat to go stale and its backoff to reach 5 s.
        eventually(lambda: not relay_healthy(stack), "the relay's heartbeat to go stale", 20)
        time.sleep(6)
    # The link is back; the relay, backing off, tries again within 5 s: up() waits for it
    # (it used to find the heartbeat stale and refuse the stack).
    states = {s.name: s for s in stack.up()}

    assert states["relay"].healthy and not states["relay"].started
    assert relay_healthy(stack)
