"""The clients' one HTTP call: no answer and error answers become the caller's own errors."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chaos.errors import FaultyardError
from chaos.http import HttpClient
from tests.conftest import free_port


class OwnError(FaultyardError):
    pass


class Unreachable(OwnError):
    pass


class Missing(OwnError):
    pass


class _Handler(BaseHTTPRequestHandler):
    """Answers /ok with 200, /missing with 404 in JSON, anything else 500 in plain text."""

    def do_GET(self) -> None:
        status, body, kind = {
            "/ok": (200, json.dumps({"fine": True}), "application/json"),
            "/missing": (404, json.dumps({"error": "no such thing"}), "application/json"),
        }.get(self.path, (500, "  it broke\n", "text/plain"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def client(url: str, **options: object) -> HttpClient:
    return HttpClient(
        url,
        service="the thing",
        error=OwnError,
        unreachable=Unreachable,
        by_status={404: Missing},
        timeout_s=5,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("keep_alive", [True, False])
def test_an_answer_comes_back_as_is(server: str, keep_alive: bool) -> None:
    assert client(server, keep_alive=keep_alive).request("GET", "/ok").json() == {"fine": True}


def test_no_answer_is_the_callers_unreachable_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(Unreachable, match=r"^the thing is not reachable at .* \(ConnectionError\)"):
        client(url).request("GET", "/ok")


def test_error_answers_are_the_callers_errors_by_status(server: str) -> None:
    with pytest.raises(Missing, match=r"^GET /missing answered 404: no such thing$"):
        client(server).request("GET", "/missing")
    with pytest.raises(OwnError, match=r"^GET /broken answered 500: it broke$") as caught:
        client(server).request("GET", "/broken")
    assert type(caught.value) is OwnError
    # Unless the caller reads the answer itself.
    assert client(server).request("GET", "/broken", check=False).status_code == 500
