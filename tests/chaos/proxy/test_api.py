"""API conformance: the independent PyPI client and raw HTTP get Toxiproxy's answers."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
import requests
from toxiproxy import Toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from chaos.toxiproxy import ToxiproxyClient
from tests.chaos.proxy.conftest import echo, port_of


def test_the_pypi_client_drives_every_endpoint(
    toxiproxy_python: Toxiproxy, upstream: Callable[..., str]
) -> None:
    target = upstream(echo)
    server = toxiproxy_python
    assert server.running()
    assert server.version()
    proxy = server.create(upstream=target, name="echo")
    assert proxy.listen.startswith("127.0.0.1:") and not proxy.listen.endswith(":0")
    assert set(server.proxies()) == {"echo"}
    assert server.get_proxy("echo").upstream == target

    proxy.add_toxic(type="latency", attributes={"latency": 100})
    proxy.add_toxic(
        type="bandwidth", stream="upstream", name="slow_up", toxicity=0.5, attributes={"rate": 10}
    )
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_downstream", "slow_up"}
    assert toxics["latency_downstream"].attributes == {"latency": 100, "jitter": 0}
    assert (toxics["slow_up"].stream, toxics["slow_up"].toxicity) == ("upstream", 0.5)
    assert proxy.destroy_toxic("slow_up")
    assert set(proxy.toxics()) == {"latency_downstream"}

    proxy.disable()
    assert server.get_proxy("echo").enabled is False
    assert server.reset()
    assert server.get_proxy("echo").enabled is True
    assert proxy.toxics() == {}

    populated = server.populate([{"name": "second", "upstream": target, "listen": "127.0.0.1:0"}])
    assert [p.name for p in populated] == ["second"]
    assert server.destroy(server.get_proxy("second"))
    assert set(server.proxies()) == {"echo"}


def test_the_pypi_client_gets_the_errors_it_expects(
    toxiproxy_python: Toxiproxy, upstream: Callable[..., str]
) -> None:
    target = upstream(echo)
    proxy = toxiproxy_python.create(upstream=target, name="errors")
    with pytest.raises(ProxyExists):
        proxy.add_toxic(type="latency")
        proxy.add_toxic(type="latency")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")
    with pytest.raises(NotFound):
        proxy.destroy_toxic("missing")
    with pytest.raises(ProxyExists):
        toxiproxy_python.create(upstream=target, name="errors")


def call(url: str, method: str, path: str, **kwargs: object) -> requests.Response:
    return requests.request(method, url + path, timeout=5, **kwargs)  # type: ignore[arg-type]


def test_json_shapes_defaults_and_status_codes(
    proxy_server: str, api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    target = upstream(echo)
    created = call(
        proxy_server,
        "POST",
        "/proxies",
        json={"name": "p", "upstream": target, "listen": "127.0.0.1:0"},
    )
    assert created.status_code == 201
    body = created.json()
    assert {k: body[k] for k in ("name", "upstream", "enabled", "toxics")} == {
        "name": "p",
        "upstream": target,
        "enabled": True,
        "toxics": [],
    }
    assert call(proxy_server, "GET", "/proxies").json() == {"p": body}

    toxic = call(proxy_server, "POST", "/proxies/p/toxics", json={"type": "latency"})
    assert toxic.status_code == 200  # Toxiproxy answers 200, not 201, for a new toxic
    assert {k: toxic.json()[k] for k in ("name", "type", "stream", "toxicity", "attributes")} == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 0, "jitter": 0},
    }
    updated = call(
        proxy_server,
        "PATCH",
        "/proxies/p/toxics/latency_downstream",
        json={"attributes": {"jitter": 5}},
    )
    assert updated.json()["attributes"] == {"latency": 0, "jitter": 5}  # merged, not replaced
    assert (
        call(proxy_server, "GET", "/proxies/p/toxics/latency_downstream").json()["attributes"][
            "jitter"
        ]
        == 5
    )

    partial = call(proxy_server, "PATCH", "/proxies/p", json={"enabled": False})
    assert (partial.status_code, partial.json()["upstream"], partial.json()["enabled"]) == (
        200,
        target,
        False,
    )

    assert call(proxy_server, "DELETE", "/proxies/p/toxics/latency_downstream").status_code == 204
    assert call(proxy_server, "POST", "/reset").status_code == 204
    assert call(proxy_server, "GET", "/proxies/p").json()["enabled"] is True
    assert call(proxy_server, "DELETE", "/proxies/p").status_code == 204
    assert call(proxy_server, "GET", "/version").json()["version"].startswith("2.")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        pytest.param("POST", "/proxies", "{nope", 400, "bad request body", id="malformed JSON"),
        pytest.param(
            "POST",
            "/proxies",
            {"upstream": "x:1"},
            400,
            "missing required field: name",
            id="no name",
        ),
        pytest.param(
            "POST",
            "/proxies",
            {"name": "n"},
            400,
            "missing required field: upstream",
            id="no upstream",
        ),
        pytest.param(
            "POST",
            "/proxies",
            {"name": "base", "upstream": "x:1"},
            409,
            "proxy already exists",
            id="duplicate proxy",
        ),
        pytest.param("GET", "/proxies/ghost", None, 404, "proxy not found", id="unknown proxy"),
        pytest.param(
            "POST",
            "/proxies",
            {"name": "n", "upstream": 5},
            400,
            "bad request body: upstream must be a string",
            id="upstream not a string",
        ),
        pytest.param(
            "POST",
            "/proxies/base/toxics",
            '{"type": "latency", "attributes": {"latency": 1e999}}',
            400,
            "bad request body: attribute latency must be an integer",
            id="infinite attribute",
        ),
        pytest.param(
            "POST",
            "/proxies/ghost/toxics",
            {"type": "latency"},
            404,
            "proxy not found",
            id="toxic on unknown proxy",
        ),
        pytest.param(
            "POST",
            "/proxies/base/toxics",
            {"type": "explode"},
            400,
            "invalid toxic type",
            id="unknown toxic type",
        ),
        pytest.param(
            "POST",
            "/proxies/base/toxics",
            {"type": "latency", "stream": "sideways"},
            400,
            "stream was invalid, can be either upstream or downstream",
            id="bad stream",
        ),
        pytest.param(
            "POST",
            "/proxies/base/toxics",
            {"type": "latency", "attributes": {"latency": -5}},
            400,
            "bad request body: attribute latency must not be negative",
            id="negative attribute",
        ),
        pytest.param(
            "POST",
            "/proxies/base/toxics",
            {"type": "latency", "toxicity": 2},
            400,
            "bad request body: toxicity must be a number between 0 and 1",
            id="toxicity above 1",
        ),
        pytest.param(
            "POST",
            "/proxies/base/toxics",
            {"type": "latency", "attributes": {"latency": "x"}},
            400,
            "bad request body: attribute latency must be an integer",
            id="non-numeric attribute",
        ),
        pytest.param(
            "POST",
            "/proxies/base/toxics",
            {"type": "timeout", "name": "t1"},
            409,
            "toxic already exists",
            id="duplicate toxic",
        ),
        pytest.param(
            "GET", "/proxies/base/toxics/ghost", None, 404, "toxic not found", id="unknown toxic"
        ),
        pytest.param(
            "DELETE",
            "/proxies/base/toxics/ghost",
            None,
            404,
            "toxic not found",
            id="delete unknown toxic",
        ),
        pytest.param(
            "POST",
            "/populate",
            {"not": "a list"},
            400,
            "bad request body",
            id="populate with an object",
        ),
        pytest.param(
            "POST",
            "/populate",
            [{"name": "x"}],
            400,
            "missing required field: upstream at proxy 1",
            id="populate missing upstream",
        ),
    ],
)
def test_bad_input_gets_toxiproxys_error_answer(
    proxy_server: str,
    api: ToxiproxyClient,
    upstream: Callable[..., str],
    method: str,
    path: str,
    body: object,
    status: int,
    error: str,
) -> None:
    target = upstream(echo)
    api.create_proxy("base", listen="127.0.0.1:0", upstream=target)
    api.add_toxic("base", "timeout", name="t1")
    kwargs = {"data": body} if isinstance(body, str) else {"json": body} if body is not None else {}
    response = call(proxy_server, method, path, **kwargs)
    assert response.status_code == status
    assert response.json()["status"] == status
    assert response.json()["error"].startswith(error)
    # The server and the other proxy are unharmed.
    assert api.proxy("base").toxics[0].name == "t1"
    assert call(proxy_server, "GET", "/version").status_code == 200


def test_a_taken_listen_address_is_refused_without_harm(
    proxy_server: str, api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    target = upstream(echo)
    keeper = api.create_proxy("keeper", listen="127.0.0.1:0", upstream=target)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = f"127.0.0.1:{squatter.getsockname()[1]}"
        response = call(
            proxy_server,
            "POST",
            "/proxies",
            json={"name": "clash", "listen": taken, "upstream": target},
        )
    assert response.status_code == 500
    assert response.json()["error"] == f"listen tcp {taken}: bind: address already in use"
    assert "clash" not in api.proxies()
    with socket.create_connection(("127.0.0.1", port_of(keeper.listen)), timeout=5) as conn:
        conn.sendall(b"still here")
        assert conn.recv(100) == b"still here"


def test_a_proxy_lists_upstream_toxics_first(
    api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    api.create_proxy("ordered", listen="127.0.0.1:0", upstream=upstream(echo))
    api.add_toxic("ordered", "latency", stream="downstream")
    api.add_toxic("ordered", "latency", stream="upstream")
    assert [t.stream for t in api.proxy("ordered").toxics] == ["upstream", "downstream"]


def test_browsers_are_refused(proxy_server: str) -> None:
    response = call(
        proxy_server, "GET", "/proxies", headers={"User-Agent": "Mozilla/5.0 (X11; Linux)"}
    )
    assert (response.status_code, response.text) == (403, "User agent not allowed\n")


def test_populate_keeps_unchanged_proxies_and_replaces_changed_ones(
    api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    first, second = upstream(echo), upstream(echo)
    [kept] = api.populate([{"name": "kept", "listen": "127.0.0.1:0", "upstream": first}])
    api.add_toxic("kept", "latency", attributes={"latency": 10})
    again = api.populate([{"name": "kept", "listen": kept.listen, "upstream": first}])
    assert again[0].toxics  # same listen and upstream: untouched, toxics kept
    replaced = api.populate([{"name": "kept", "listen": kept.listen, "upstream": second}])
    assert replaced[0].upstream == second and replaced[0].toxics == []


def test_metrics_count_bytes_and_connections(
    proxy_server: str, api: ToxiproxyClient, upstream: Callable[..., str]
) -> None:
    target = upstream(echo)
    proxy = api.create_proxy("counted", listen="127.0.0.1:0", upstream=target)
    with socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=5) as conn:
        conn.sendall(b"x" * 1000)
        received = b""
        while len(received) < 1000:
            received += conn.recv(4096)
        text = call(proxy_server, "GET", "/metrics").text
        assert 'toxiproxy_proxy_active_connections{proxy="counted"} 1.0' in text
    sent_up = next(
        line
        for line in text.splitlines()
        if line.startswith("toxiproxy_proxy_sent_bytes_total{")
        and 'proxy="counted"' in line
        and 'direction="upstream"' in line
    )
    assert float(sent_up.rsplit(" ", 1)[1]) == 1000
