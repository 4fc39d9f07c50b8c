"""The proxy counts the requests its upstream dropped: closed or reset with no answer sent."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

import pytest

from chaos.toxiproxy import ToxiproxyClient
from tests.chaos.proxy.conftest import metric, port_of


def answer_then_close(sock, _address) -> None:  # type: ignore[no-untyped-def]
    """Read a request, answer it, close: an HTTP server with `Connection: close`."""
    sock.recv(65536)
    sock.sendall(b"answer")
    sock.close()


def close_unanswered(sock, _address) -> None:  # type: ignore[no-untyped-def]
    """Read a request and close without a byte of answer: a worker that exits mid-request."""
    sock.recv(65536)
    sock.close()


def reset_unanswered(sock, _address) -> None:  # type: ignore[no-untyped-def]
    """Read part of a request and reset the connection (the rest unread: the kernel sends RST)."""
    sock.recv(1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def one_exchange(proxy: str, api: ToxiproxyClient, *, hang_up_first: bool = False) -> bytes:
    """Send a request through the proxy and read until the connection ends; return the answer."""
    listen = api.proxies()[proxy].listen
    answer = b""
    with socket.create_connection(("127.0.0.1", port_of(listen)), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\n\r\n")
        if hang_up_first:  # the client gives up before any answer
            return answer
        try:
            while data := conn.recv(4096):
                answer += data
        except ConnectionResetError:
            pass
    return answer


@pytest.mark.parametrize(
    ("handler", "hang_up_first", "dropped"),
    [
        (answer_then_close, False, 0),
        (close_unanswered, False, 1),
        (reset_unanswered, False, 1),
        (close_unanswered, True, 0),  # the client went first: not the server's doing
    ],
    ids=["answered", "closed-unanswered", "reset-unanswered", "client-hung-up"],
)
def test_requests_dropped_count_the_upstreams_hang_ups_with_a_request_unanswered(
    proxy_server: str,
    api: ToxiproxyClient,
    upstream: Callable[..., str],
    handler: Callable[..., None],
    hang_up_first: bool,
    dropped: int,
) -> None:
    name = f"drops-{handler.__name__}-{hang_up_first}".replace("_", "-")
    api.create_proxy(name, listen="127.0.0.1:0", upstream=upstream(handler))
    for _ in range(2):
        one_exchange(name, api, hang_up_first=hang_up_first)
    # Each connection is counted as it ends: wait until the proxy holds none.
    deadline = time.monotonic() + 10
    while metric(proxy_server, "toxiproxy_proxy_active_connections", name) > 0:
        assert time.monotonic() < deadline, "the proxy kept its connections open"
        time.sleep(0.02)
    assert metric(proxy_server, "faultyard_proxy_requests_dropped_total", name) == 2 * dropped
