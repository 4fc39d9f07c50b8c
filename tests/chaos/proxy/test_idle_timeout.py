"""idle_timeout (an extension): an idle connection is closed, a busy one is left alone."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from chaos.toxiproxy import ToxiproxyClient
from tests.chaos.proxy.conftest import echo, port_of

pytestmark = pytest.mark.slow

IDLE_MS = 300


def ping(conn: socket.socket) -> bytes:
    conn.sendall(b"ping")
    return conn.recv(100)


def test_a_connection_idle_for_the_timeout_is_closed(
    api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    proxy = api.create_proxy("idle", listen="127.0.0.1:0", upstream=upstream(echo))
    api.add_toxic("idle", "idle_timeout", attributes={"timeout": IDLE_MS})
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
        assert ping(conn) == b"ping"
        started = time.monotonic()
        assert conn.recv(100) == b""  # closed by the proxy: end of stream
        assert time.monotonic() - started >= IDLE_MS / 1000 * 0.9


def test_a_busy_connection_stays_open(api: ToxiproxyClient, upstream: Callable[..., str]) -> None:
    proxy = api.create_proxy("busy", listen="127.0.0.1:0", upstream=upstream(echo))
    api.add_toxic("busy", "idle_timeout", attributes={"timeout": IDLE_MS})
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
        deadline = time.monotonic() + 3 * IDLE_MS / 1000
        while time.monotonic() < deadline:  # data every IDLE_MS / 3: never idle that long
            assert ping(conn) == b"ping"
            time.sleep(IDLE_MS / 3000)


def test_removing_it_spares_the_open_connections(
    api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    proxy = api.create_proxy("spared", listen="127.0.0.1:0", upstream=upstream(echo))
    api.add_toxic("spared", "idle_timeout", attributes={"timeout": IDLE_MS})
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
        assert ping(conn) == b"ping"
        api.remove_toxic("spared", "idle_timeout_downstream")
        conn.settimeout(3 * IDLE_MS / 1000)
        with pytest.raises(TimeoutError):  # nothing arrives, not even the end of the stream
            conn.recv(100)
        assert ping(conn) == b"ping"
