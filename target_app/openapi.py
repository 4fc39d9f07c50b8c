"""What /openapi.json says beyond the routes' own models.

spectree documents each route from its request and response models; this adds
what the application answers around them, so that every status a route can
give is in the document:

- every route may answer 500 (the catch-all error handler) and 414 (gunicorn
  refuses a request line over its limit, before the shop sees it);
- every POST, PUT and PATCH may answer 400, 413 and 415 (the body checks every
  such request goes through first, see target_app.app);
- checkout and buy now take an optional `Idempotency-Key` header;
- the admin API wants its bearer token, account routes a shopper's access token;
- the stock stream answers Server-Sent Events, not JSON;
- links lead a client that follows them (a stateful fuzzer, say) from a new
  cart to its items, its checkout and the order placed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from target_app.schemas import IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_PATTERN

BODY_METHODS = frozenset({"post", "put", "patch"})

_BODY_ERRORS = {
    "400": "Bad Request: the body is not valid JSON, or a header is malformed",
    "413": "Content Too Large: the body is over the shop's limit",
    "415": "Unsupported Media Type: the body is not JSON",
}
_SERVER_ERROR = "Internal Server Error: an unexpected fault"
_URI_TOO_LONG = "URI Too Long: gunicorn refuses the request line before the shop sees it (not JSON)"

_IDEMPOTENT = {("/carts/{cart_id}/checkout", "post"), ("/orders", "post")}
_IDEMPOTENCY_KEY = {
    "name": IDEMPOTENCY_KEY_HEADER,
    "in": "header",
    "required": False,
    "description": "A key per purchase (a UUID): repeating the request with it returns the "
    "first order (200, header `Idempotent-Replayed: true`) instead of placing another.",
    "schema": {"type": "string", "pattern": f"^{IDEMPOTENCY_KEY_PATTERN}$"},
}
_STREAM = ("/stream/stock", "get")
ADMIN_PREFIX = "/admin/"
ADMIN_SCHEME = "adminToken"
_ADMIN_TOKEN = {
    "type": "http",
    "scheme": "bearer",
    "description": "The stack's admin token (the state folder's `admin-token` file); "
    "the admin API also answers loopback callers only (403 otherwise).",
}

ACCESS_SCHEME = "accessToken"
_ACCESS_TOKEN = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "An access token from POST /auth/login or /auth/refresh (HS256, valid "
    "`expires_in` seconds). Missing, expired or invalid: 401 with a `WWW-Authenticate` "
    "challenge; a role that may not: 403.",
}
#: The operations that want an access token.
ACCESS_TOKEN_ROUTES = frozenset(
    {
        ("/me", "get"),
        ("/carts", "post"),
        ("/carts/{cart_id}", "get"),
        ("/carts/{cart_id}/items", "post"),
        ("/carts/{cart_id}/items/{product_id}", "delete"),
        ("/carts/{cart_id}/checkout", "post"),
        ("/orders", "post"),
        ("/orders/{order_id}", "get"),
        ("/users/{user_id}/orders", "get"),
        ("/auth/logout-all", "post"),
        ("/products", "post"),
        ("/products/{product_id}/price", "put"),
        ("/products/{product_id}/restock", "post"),
    }
)


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: a value of one operation's answer fills another's parameters."""

    source: tuple[str, str]
    statuses: tuple[str, ...]
    name: str
    target: tuple[str, str]
    parameters: dict[str, str]
    body: dict[str, str] | None = None  # request body fields taken from the answer


_NEW_CART = ("/carts", "post")
_CART = ("/carts/{cart_id}", "get")
_ADD_ITEM = ("/carts/{cart_id}/items", "post")
_REMOVE_ITEM = ("/carts/{cart_id}/items/{product_id}", "delete")
_CHECKOUT = ("/carts/{cart_id}/checkout", "post")
_ORDER = ("/orders/{order_id}", "get")
_HISTORY = ("/users/{user_id}/orders", "get")
_CART_ID = {"cart_id": "$response.body#/id"}
_FIRST_ITEM = {"cart_id": "$response.body#/id", "product_id": "$response.body#/items/0/product_id"}
_ORDER_ID = {"order_id": "$response.body#/id"}
_USER_ID = {"user_id": "$response.body#/user_id"}
_ORDER_CART = {"cart_id": "$response.body#/cart_id"}


def _cart_links(source: tuple[str, str], statuses: tuple[str, ...]) -> list[Link]:
    return [
        Link(source, statuses, "GetCart", _CART, _CART_ID),
        Link(source, statuses, "AddItem", _ADD_ITEM, _CART_ID),
        Link(source, statuses, "RemoveItem", _REMOVE_ITEM, _FIRST_ITEM),
        Link(source, statuses, "Checkout", _CHECKOUT, _CART_ID),
    ]


def _order_links(source: tuple[str, str]) -> list[Link]:
    statuses = ("200", "201")  # placed, or replayed for its Idempotency-Key
    return [
        Link(source, statuses, "GetOrder", _ORDER, _ORDER_ID),
        Link(source, statuses, "GetOrderHistory", _HISTORY, _USER_ID),
        Link(source, statuses, "GetOrderCart", _CART, _ORDER_CART),
        # The buyer comes back for more: a cart of theirs.
        Link(source, statuses, "NewCart", _NEW_CART, {}),
    ]


LINKS: tuple[Link, ...] = (
    # A new cart is empty: no item to remove yet.
    *(link for link in _cart_links(_NEW_CART, ("201",)) if link.name != "RemoveItem"),
    *_cart_links(_ADD_ITEM, ("200",)),
    *_cart_links(_CART, ("200",)),
    *_order_links(_CHECKOUT),
    *_order_links(("/orders", "post")),
)


def complete(spec: dict[str, Any], *, error_schema: str) -> None:
    """Add to spectree's document (in place) what the routes' models do not say."""
    error = {"application/json": {"schema": {"$ref": f"#/components/schemas/{error_schema}"}}}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.setdefault("500", {"description": _SERVER_ERROR, "content": error})
            responses.setdefault("414", {"description": _URI_TOO_LONG})
            if method in BODY_METHODS:
                for status, description in _BODY_ERRORS.items():
                    responses.setdefault(status, {"description": description, "content": error})
            if (path, method) in _IDEMPOTENT:
                operation.setdefault("parameters", []).append(dict(_IDEMPOTENCY_KEY))
            if (path, method) == _STREAM and "200" in responses:
                responses["200"]["content"] = {"text/event-stream": {"schema": {"type": "string"}}}
            if path.startswith(ADMIN_PREFIX):
                operation["security"] = [{ADMIN_SCHEME: []}]
            if (path, method) in ACCESS_TOKEN_ROUTES:
                operation["security"] = [{ACCESS_SCHEME: []}]
    schemes = spec["components"].setdefault("securitySchemes", {})
    schemes[ADMIN_SCHEME] = _ADMIN_TOKEN
    schemes[ACCESS_SCHEME] = _ACCESS_TOKEN
    _add_links(spec)


def _add_links(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    for link in LINKS:
        source = paths.get(link.source[0], {}).get(link.source[1])
        target = paths.get(link.target[0], {}).get(link.target[1])
        if source is None or target is None:
            continue  # a route left out of this document (none is, today)
        for status in link.statuses:
            response = source["responses"].get(status)
            if response is None:
                continue
            described: dict[str, Any] = {"operationId": target["operationId"]}
            if link.parameters:
                described["parameters"] = dict(link.parameters)
            if link.body is not None:
                described["requestBody"] = dict(link.body)
            response.setdefault("links", {})[link.name] = described
