"""Each toxic's effect on real traffic: psycopg, redis-py and raw sockets through the proxy.

Only lower bounds on time are asserted (a delay is at least what was asked);
how fast the proxy is gets measured by `make bench-proxy`, not here.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
import requests
from redis import Redis

from chaos.stack.manager import Stack
from chaos.toxiproxy import Proxy, ToxiproxyClient
from tests.chaos.proxy.conftest import echo, port_of
from tests.conftest import AppFactory, eventually

pytestmark = pytest.mark.slow


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@pytest.fixture
def pg_proxy(api: ToxiproxyClient, stack: Stack) -> Proxy:
    return api.create_proxy(
        "pg", listen="127.0.0.1:0", upstream=f"127.0.0.1:{stack.settings.pg_port}"
    )


@pytest.fixture
def redis_proxy(api: ToxiproxyClient, stack: Stack) -> Proxy:
    return api.create_proxy(
        "rd", listen="127.0.0.1:0", upstream=f"127.0.0.1:{stack.settings.redis_port}"
    )


@pytest.fixture
def redis_through(redis_proxy: Proxy) -> Iterator[Redis]:
    client = Redis(host="127.0.0.1", port=port_of(redis_proxy.listen), socket_timeout=10)
    yield client
    client.close()


def connect_pg(proxy: Proxy, stack: Stack) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1",
        port=port_of(proxy.listen),
        user=stack.settings.pg_user,
        dbname=stack.settings.pg_database,
        connect_timeout=5,
        autocommit=True,
    )


def test_latency_delays_a_psycopg_query(
    api: ToxiproxyClient, pg_proxy: Proxy, stack: Stack
) -> None:
    with connect_pg(pg_proxy, stack) as conn:
        api.add_toxic("pg", "latency", attributes={"latency": 200, "jitter": 20})
        assert timed(lambda: conn.execute("SELECT 1").fetchone()) >= 0.18


def test_latency_applies_to_an_open_connection_and_goes_with_the_toxic(
    api: ToxiproxyClient, redis_through: Redis
) -> None:
    assert redis_through.ping()  # the connection is open before the toxic exists
    api.add_toxic("rd", "latency", attributes={"latency": 1500}, stream="upstream")
    assert timed(redis_through.ping) >= 1.5
    api.remove_toxic("rd", "latency_upstream")
    assert timed(redis_through.ping) < 1.0  # the same connection is no longer delayed


def test_stacked_latency_toxics_add_up(api: ToxiproxyClient, redis_through: Redis) -> None:
    api.add_toxic("rd", "latency", name="base", attributes={"latency": 150}, stream="upstream")
    api.add_toxic("rd", "latency", name="spike", attributes={"latency": 150}, stream="upstream")
    assert timed(redis_through.ping) >= 0.3


def test_removing_a_toxic_releases_the_data_it_held(
    api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    proxy = api.create_proxy("held", listen="127.0.0.1:0", upstream=upstream(echo))
    api.add_toxic("held", "latency", attributes={"latency": 60_000})
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
        conn.sendall(b"in flight")
        eventually(lambda: _sent(api, "held", "upstream") >= 9, "the data to reach the echo server")
        api.remove_toxic("held", "latency_downstream")  # the echo is held for a minute: not dropped
        assert conn.recv(100) == b"in flight"


def _sent(api: ToxiproxyClient, proxy: str, direction: str) -> float:
    for line in requests.get(f"{api.url}/metrics", timeout=5).text.splitlines():
        if (
            line.startswith("toxiproxy_proxy_sent_bytes_total{")
            and f'proxy="{proxy}"' in line
            and f'direction="{direction}"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_timeout_stalls_then_closes(api: ToxiproxyClient, upstream: Callable[..., str]) -> None:
    proxy = api.create_proxy("stall", listen="127.0.0.1:0", upstream=upstream(echo))
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
        api.add_toxic("stall", "timeout", attributes={"timeout": 300})
        started = time.perf_counter()
        conn.sendall(b"hello?")
        assert conn.recv(100) == b""  # nothing came back, then the connection closed
        assert time.perf_counter() - started >= 0.25


def test_timeout_zero_holds_the_connection_open(
    api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    proxy = api.create_proxy("hold", listen="127.0.0.1:0", upstream=upstream(echo))
    api.add_toxic("hold", "timeout", attributes={"timeout": 0})
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=0.5) as conn:
        conn.sendall(b"anyone?")
        with pytest.raises(TimeoutError):
            conn.recv(100)


def test_reset_peer_resets_the_connection(
    api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    proxy = api.create_proxy("rst", listen="127.0.0.1:0", upstream=upstream(echo))
    api.add_toxic("rst", "reset_peer", attributes={"timeout": 50}, stream="upstream")
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
        conn.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            conn.recv(100)


def _send_bytes(count: int) -> Callable[..., None]:
    def handler(sock, _address) -> None:  # type: ignore[no-untyped-def]
        sock.sendall(b"x" * count)
        sock.recv(1)  # keep the connection until the client goes

    return handler


def _read_all(conn: socket.socket) -> bytes:
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received


def _read_exactly(conn: socket.socket, count: int) -> bytes:
    received = b""
    while len(received) < count:
        chunk = conn.recv(65536)
        assert chunk, f"connection closed after {len(received)} of {count} bytes"
        received += chunk
    return received


def test_limit_data_closes_after_n_bytes(
    api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    proxy = api.create_proxy("cap", listen="127.0.0.1:0", upstream=upstream(_send_bytes(10_000)))
    api.add_toxic("cap", "limit_data", attributes={"bytes": 1234})
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
        received = _read_all(conn)
    assert len(received) == 1234


def test_bandwidth_caps_throughput(api: ToxiproxyClient, upstream: Callable[..., str]) -> None:
    proxy = api.create_proxy("thin", listen="127.0.0.1:0", upstream=upstream(_send_bytes(60_000)))
    api.add_toxic("thin", "bandwidth", attributes={"rate": 100})  # 100 KB/s
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
        started = time.perf_counter()
        received = b""
        while len(received) < 60_000:
            received += conn.recv(65536)
        assert (
            time.perf_counter() - started >= 0.5
        )  # 60 KB at 100 KB/s: at least 0.6 s less a slice


def test_slicer_splits_writes(api: ToxiproxyClient, upstream: Callable[..., str]) -> None:
    proxy = api.create_proxy("slices", listen="127.0.0.1:0", upstream=upstream(_send_bytes(1000)))
    api.add_toxic(
        "slices", "slicer", attributes={"average_size": 100, "size_variation": 0, "delay": 20_000}
    )
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
        started = time.perf_counter()
        assert _read_exactly(conn, 1000) == b"x" * 1000
        # One 1000-byte write came out as ten 100-byte slices with 20 ms between them.
        assert time.perf_counter() - started >= 9 * 0.020


@pytest.mark.parametrize(("toxicity", "low", "high"), [(0.0, 0, 0), (0.5, 5, 35), (1.0, 40, 40)])
def test_toxicity_is_decided_once_per_connection(
    api: ToxiproxyClient, upstream: Callable[..., str], toxicity: float, low: int, high: int
) -> None:
    proxy = api.create_proxy("dice", listen="127.0.0.1:0", upstream=upstream(echo))
    api.add_toxic("dice", "limit_data", attributes={"bytes": 0}, toxicity=toxicity)
    hit = 0
    for _ in range(40):
        with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
            conn.sendall(b"a")
            if conn.recv(10) == b"":
                hit += 1  # this connection drew the toxic: closed at its first byte
                continue
            conn.sendall(b"b")
            assert conn.recv(10) == b"b"  # and one that did not stays clean for good
    assert low <= hit <= high


def test_per_request_toxicity_rolls_for_each_request(
    api: ToxiproxyClient, redis_through: Redis
) -> None:
    api.add_toxic(
        "rd", "latency", attributes={"latency": 200}, toxicity=0.5, toxicity_per="request"
    )
    # One pooled connection, 30 requests: some slowed, some not (a fast PING is ~1 ms).
    slow = sum(timed(redis_through.ping) >= 0.2 for _ in range(30))
    assert 3 <= slow <= 27


def test_a_toxic_with_a_duration_removes_itself(api: ToxiproxyClient, redis_through: Redis) -> None:
    assert redis_through.ping()
    toxic = api.add_toxic("rd", "latency", attributes={"latency": 1500}, duration_ms=300)
    assert toxic.duration_ms == 300
    assert api.proxy("rd").toxics
    eventually(lambda: not api.proxy("rd").toxics, "the toxic to remove itself")
    assert timed(redis_through.ping) < 1.0  # gone for the open connection too


def test_slow_close_delays_the_close(api: ToxiproxyClient, upstream: Callable[..., str]) -> None:
    def hello_and_close(sock, _address) -> None:  # type: ignore[no-untyped-def]
        sock.sendall(b"bye")

    proxy = api.create_proxy("lingering", listen="127.0.0.1:0", upstream=upstream(hello_and_close))
    api.add_toxic("lingering", "slow_close", attributes={"delay": 300})
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
        started = time.perf_counter()
        assert _read_all(conn) == b"bye"
        assert time.perf_counter() - started >= 0.3


def test_updating_a_toxic_keeps_its_state_on_open_connections(
    api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    proxy = api.create_proxy("metered", listen="127.0.0.1:0", upstream=upstream(echo))
    api.add_toxic("metered", "limit_data", attributes={"bytes": 1000})
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
        conn.sendall(b"a" * 600)
        assert _read_exactly(conn, 600) == b"a" * 600
        api.update_toxic("metered", "limit_data_downstream", attributes={"bytes": 1200})
        conn.sendall(b"b" * 600)
        # 600 already counted: the new limit leaves exactly 600, then the connection ends.
        assert _read_all(conn) == b"b" * 600


def test_removing_a_timeout_toxic_closes_the_connection(
    api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    proxy = api.create_proxy("cut", listen="127.0.0.1:0", upstream=upstream(echo))
    api.add_toxic("cut", "timeout", attributes={"timeout": 0})
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
        conn.sendall(b"lost")
        # Echoed back, then held by the toxic: the connection exists with its toxic in place.
        eventually(lambda: _sent(api, "cut", "upstream") >= 4, "the data to reach upstream")
        api.remove_toxic("cut", "timeout_downstream")
        assert _read_all(conn) == b""  # the dropped data broke the stream: it is closed


def test_disabling_a_proxy_while_it_holds_data(
    api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    proxy = api.create_proxy("busy", listen="127.0.0.1:0", upstream=upstream(echo))
    api.add_toxic("busy", "latency", attributes={"latency": 60_000})
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
        conn.sendall(b"held")
        eventually(lambda: _sent(api, "busy", "upstream") >= 4, "the data to reach upstream")
        api.set_enabled("busy", False)
        with contextlib.suppress(ConnectionResetError):  # aborted: gone either way
            assert conn.recv(100) == b""
    # The server logs no error for the data it dropped (checked when the server stops).


def test_half_close_reaches_the_other_side(
    api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    proxy = api.create_proxy("half", listen="127.0.0.1:0", upstream=upstream(echo))
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=10) as conn:
        conn.sendall(b"last words")
        conn.shutdown(socket.SHUT_WR)  # the echo server sees EOF, answers, and closes
        assert _read_all(conn) == b"last words"


def test_a_disabled_proxy_closes_connections_and_refuses_new_ones(
    api: ToxiproxyClient, pg_proxy: Proxy, stack: Stack, make_app: AppFactory
) -> None:
    conn = connect_pg(pg_proxy, stack)
    app = make_app(
        database_url=stack.settings.database_url.replace(
            f":{stack.settings.pg_port}/", f":{port_of(pg_proxy.listen)}/"
        ),
        db_connect_timeout_s=2,
    )
    assert app.test_client().get("/readyz").status_code == 200
    api.set_enabled("pg", False)
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError):
        connect_pg(pg_proxy, stack)
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["postgres"]["ok"] is False
    assert ready.get_json()["checks"]["redis"]["ok"] is True
    api.set_enabled("pg", True)
    with connect_pg(pg_proxy, stack) as again:
        assert again.execute("SELECT 1").fetchone() == (1,)
    conn.close()
