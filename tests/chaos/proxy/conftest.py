"""A Toxiproxy-compatible server of the tests' own, and upstream servers to put behind it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from gevent.server import StreamServer
from toxiproxy import Toxiproxy

from chaos.toxiproxy import ToxiproxyClient
from tests.conftest import free_port


@pytest.fixture(scope="module")
def proxy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run `faultyard proxy` on a free port; yield its API URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("proxy") / "proxy.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaos", "proxy", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(f"{url}/version", timeout=1)
            break
        except requests.ConnectionError:
            assert proc.poll() is None, Path(log).read_text()
            assert time.monotonic() < deadline, "proxy server did not start"
            time.sleep(0.05)
    yield url
    proc.terminate()
    assert proc.wait(timeout=10) == 0, Path(log).read_text()
    assert "Traceback" not in Path(log).read_text(), Path(log).read_text()


@pytest.fixture
def api(proxy_server: str) -> Iterator[ToxiproxyClient]:
    """Faultyard's own client; every proxy is deleted after the test."""
    client = ToxiproxyClient(proxy_server)
    yield client
    for name in client.proxies():
        client.delete_proxy(name)


@pytest.fixture
def toxiproxy_python(proxy_server: str, api: ToxiproxyClient) -> Toxiproxy:
    """The PyPI client `toxiproxy-python`, an independent client, pointed at our server."""
    server = Toxiproxy()
    port = int(proxy_server.rsplit(":", 1)[1])
    server.update_api_consumer("127.0.0.1", port)
    return server


Handler = Callable[..., None]


@pytest.fixture
def upstream() -> Iterator[Callable[[Handler], str]]:
    """Start TCP servers with a handler(socket, address); yield a starter returning host:port."""
    servers: list[StreamServer] = []

    def start(handler: Handler) -> str:
        server = StreamServer(("127.0.0.1", 0), handler)
        server.start()
        servers.append(server)
        return f"127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.stop(timeout=1)


def echo(sock, _address) -> None:  # type: ignore[no-untyped-def]
    """Send back whatever arrives, until the client closes."""
    while data := sock.recv(65536):
        sock.sendall(data)


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def metric(proxy_server: str, name: str, proxy: str) -> float:
    """Return one proxy's value of a metric (0 when the proxy has no sample yet)."""
    for line in requests.get(f"{proxy_server}/metrics", timeout=5).text.splitlines():
        if line.startswith(f'{name}{{proxy="{proxy}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
