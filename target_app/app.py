"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, UnsupportedMediaType
from werkzeug.routing import IntegerConverter, Map

from target_app import db, rate_limits
from target_app.api import api
from target_app.blueprints import (
    admin,
    admin_memory,
    auth,
    carts,
    catalog,
    health,
    orders,
    product_admin,
    stock_changes,
    stock_socket,
    stream,
    stream_gaps,
)
from target_app.config import load_settings
from target_app.errors import error_body, register_error_handlers
from target_app.failures import RecentFailures
from target_app.instrumentation import request_hooks, tracing
from target_app.redis_client import make_redis
from target_app.runtime_settings import RuntimeSettings
from target_app.schemas import INT32_MAX
from target_app.services.catalog_cache import CatalogCache
from target_app.switches import SwitchBoard

log = logging.getLogger(__name__)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the shop from the environment's settings, with `config` overriding them."""
    settings = load_settings(config)
    # Before the engine is made: its statements are traced from the first one.
    tracing.setup(settings, service="shop")
    app = ShopFlask(__name__)
    # Ids are PostgreSQL integers: larger ones are unknown ids (404), not database errors.
    app.url_map.converters["int"] = DatabaseIntConverter
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["settings"] = settings
    app.extensions["switches"] = SwitchBoard(
        settings.switches_file, refresh_s=settings.switch_refresh_s
    )
    app.extensions["runtime_settings"] = RuntimeSettings(
        settings.runtime_settings_file, refresh_s=settings.switch_refresh_s
    )
    app.extensions["catalog_cache"] = CatalogCache(max_products=settings.catalog_cache_max_products)
    app.extensions["redis"] = make_redis(settings)
    app.extensions["failures"] = RecentFailures()
    # WebSockets ping their clients as the SSE stream sends its keepalive comments.
    app.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": settings.sse_heartbeat_s}

    db.init_app(app, settings)
    request_spans = tracing.init_app(app, settings)
    if settings.instrumentation:  # off, tracing is off too (ShopSettings)
        request_hooks.init_app(app, request_spans)
    register_error_handlers(app)
    app.before_request(_reject_unparseable_body)

    for blueprint in (
        catalog.bp,
        product_admin.bp,
        auth.bp,
        carts.bp,
        orders.bp,
        stream.bp,
        stock_changes.bp,
        stock_socket.bp,
        stream_gaps.bp,
        health.bp,
        admin.bp,
        admin_memory.bp,
    ):
        app.register_blueprint(blueprint)
    api.register(app)
    rate_limits.init_app(app, settings)  # on the registered views

    @app.get("/openapi.json")
    def openapi() -> Response:
        return jsonify(api.spec)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("unhandled error")
        tracing.record_error(exc)
        return error_body(500, "internal server error")

    return app


class ShopFlask(Flask):
    """Flask, asking once per function whether it must run as a coroutine.

    Flask calls `ensure_sync` at every call of every view and request hook, and
    answers with `inspect.iscoroutinefunction` (about ten Python calls each
    time, fifty a request for the instrumentation's hooks alone). The answer
    never changes for a function, so it is kept; Flask documents this method
    as the one to override.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_functions: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        sync = self._sync_functions.get(func)
        if sync is None:
            sync = self._sync_functions[func] = super().ensure_sync(func)
        return sync


class DatabaseIntConverter(IntegerConverter):
    """`<int:...>` limited to PostgreSQL's integer range."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT32_MAX)
        super().__init__(url_map, *args, **kwargs)


def _reject_unparseable_body() -> None:
    """Answer 415 for a body that is not JSON and 400 for malformed JSON, before any route."""
    if request.method not in _BODY_METHODS:
        return
    body = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    if not body:
        return
    if not request.is_json:
        raise UnsupportedMediaType("request body must be JSON (Content-Type: application/json)")
    try:
        request.get_json()
    except (BadRequest, RecursionError) as exc:
        raise BadRequest("request body is not valid JSON") from exc
