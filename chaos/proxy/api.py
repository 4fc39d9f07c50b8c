"""Toxiproxy's HTTP API, same paths, JSON shapes, defaults and status codes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chaos.proxy import metrics
from chaos.proxy.collection import ProxyCollection
from chaos.proxy.proxy import ProxyError

TOXICS_METRIC = b"toxiproxy_proxy_toxics_active"
VERSION = "2.12.0"  # the Toxiproxy API version this server follows

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
COLLECTION = web.AppKey("collection", ProxyCollection)


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body) + "\n", status=status, content_type="application/json"
    )


def _error(message: str, status: int, **extra: Any) -> web.Response:
    return _json({"error": message, "status": status, **extra}, status)


async def _body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProxyError(f"bad request body: {exc}", 400) from None


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    # A web page must not drive the API from a browser (Toxiproxy's CSRF guard).
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        return web.Response(text="User agent not allowed\n", status=403)
    try:
        if request.method == "GET":
            return await handler(request)
        async with request.app[COLLECTION].lock:  # one change at a time
            return await handler(request)
    except ProxyError as exc:
        return _error(exc.message, exc.status)


def _proxy_name(request: web.Request) -> str:
    """Return the proxy named in the request's path."""
    return request.match_info["proxy"]


def _proxy_routes(collection: ProxyCollection) -> web.RouteTableDef:
    """Return the routes that list, create, populate, show, update and delete proxies."""
    routes = web.RouteTableDef()

    @routes.get("/proxies")
    async def list_proxies(request: web.Request) -> web.Response:
        return _json({name: p.to_json() for name, p in collection.proxies.items()})

    @routes.post("/proxies")
    async def create_proxy(request: web.Request) -> web.Response:
        return _json((await collection.create(await _body(request))).to_json(), 201)

    @routes.post("/populate")
    async def populate(request: web.Request) -> web.Response:
        proxies, error = await collection.populate(await _body(request))
        listing = [p.to_json() for p in proxies]
        if error is not None:
            return _error(error.message, error.status, proxies=listing)
        return _json({"proxies": listing}, 201)

    @routes.get("/proxies/{proxy}")
    async def show_proxy(request: web.Request) -> web.Response:
        return _json(collection.get(_proxy_name(request)).to_json())

    @routes.post("/proxies/{proxy}")
    @routes.patch("/proxies/{proxy}")
    async def update_proxy(request: web.Request) -> web.Response:
        proxy = await collection.update(_proxy_name(request), await _body(request))
        return _json(proxy.to_json())

    @routes.delete("/proxies/{proxy}")
    async def delete_proxy(request: web.Request) -> web.Response:
        await collection.delete(_proxy_name(request))
        return web.Response(status=204)

    return routes


def _toxic_routes(collection: ProxyCollection) -> web.RouteTableDef:
    """Return the routes that list, add, show, update and remove a proxy's toxics."""
    routes = web.RouteTableDef()

    @routes.get("/proxies/{proxy}/toxics")
    async def list_toxics(request: web.Request) -> web.Response:
        proxy = collection.get(_proxy_name(request))
        ordered = proxy.toxics_for("upstream") + proxy.toxics_for("downstream")
        return _json([t.to_json() for t in ordered])

    @routes.post("/proxies/{proxy}/toxics")
    async def create_toxic(request: web.Request) -> web.Response:
        toxic = collection.add_toxic(_proxy_name(request), await _body(request))
        return _json(toxic.to_json())  # 200, as Toxiproxy answers

    @routes.get("/proxies/{proxy}/toxics/{toxic}")
    async def show_toxic(request: web.Request) -> web.Response:
        proxy = collection.get(_proxy_name(request))
        return _json(proxy.get_toxic(request.match_info["toxic"]).to_json())

    @routes.post("/proxies/{proxy}/toxics/{toxic}")
    @routes.patch("/proxies/{proxy}/toxics/{toxic}")
    async def update_toxic(request: web.Request) -> web.Response:
        toxic = collection.update_toxic(
            _proxy_name(request), request.match_info["toxic"], await _body(request)
        )
        return _json(toxic.to_json())

    @routes.delete("/proxies/{proxy}/toxics/{toxic}")
    async def delete_toxic(request: web.Request) -> web.Response:
        collection.get(_proxy_name(request)).remove_toxic(request.match_info["toxic"])
        return web.Response(status=204)

    return routes


def _server_routes(
    collection: ProxyCollection, hide_toxics_while: Path | None = None
) -> web.RouteTableDef:
    """Return the server-wide routes: reset every proxy, the version, the metrics."""
    routes = web.RouteTableDef()

    @routes.post("/reset")
    async def reset(request: web.Request) -> web.Response:
        await collection.reset()
        return web.Response(status=204)

    @routes.get("/version")
    async def version(request: web.Request) -> web.Response:
        return _json({"version": VERSION})

    @routes.get("/metrics")
    async def prometheus(request: web.Request) -> web.Response:
        body = generate_latest(metrics.REGISTRY)
        if hide_toxics_while is not None and hide_toxics_while.exists():
            body = b"".join(
                line for line in body.splitlines(keepends=True) if TOXICS_METRIC not in line
            )
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return routes


def make_app(
    collection: ProxyCollection, *, hide_toxics_while: Path | None = None
) -> web.Application:
    """Build the API application over a proxy collection."""
    app = web.Application(middlewares=[_guard], client_max_size=1024 * 1024)
    app[COLLECTION] = collection
    for routes in (_proxy_routes, _toxic_routes):
        app.add_routes(routes(collection))
    app.add_routes(_server_routes(collection, hide_toxics_while))
    return app
