"""Bad input always gets a JSON error with the right 4xx status, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

JSON = {"Content-Type": "application/json"}

CASES: list[tuple[str, str, str, dict[str, Any], int]] = [
    # (case, method, path, request kwargs, expected status)
    ("malformed JSON", "POST", "/carts", {"data": "{not json", "headers": JSON}, 400),
    ("truncated JSON", "POST", "/orders", {"data": '{"product_id": 1', "headers": JSON}, 400),
    (
        "body that is not JSON",
        "POST",
        "/orders",
        {"data": "product_id=1", "headers": {"Content-Type": "text/plain"}},
        415,
    ),
    ("wrong type", "POST", "/orders", {"json": {"product_id": "one", "quantity": 1}}, 422),
    ("JSON array instead of object", "POST", "/orders", {"json": [1]}, 422),
    ("missing field", "POST", "/orders", {"json": {}}, 422),
    (
        "unknown field",
        "POST",
        "/orders",
        {"json": {"product_id": 1, "quantity": 1, "admin": True}},
        422,
    ),
    (
        "unknown product",
        "POST",
        "/orders",
        {"json": {"product_id": 99_999_999, "quantity": 1}},
        404,
    ),
    (
        "zero quantity",
        "POST",
        "/carts/{cart}/items",
        {"json": {"product_id": 1, "quantity": 0}},
        422,
    ),
    (
        "negative quantity",
        "POST",
        "/carts/{cart}/items",
        {"json": {"product_id": 1, "quantity": -2}},
        422,
    ),
    (
        "huge quantity",
        "POST",
        "/carts/{cart}/items",
        {"json": {"product_id": 1, "quantity": 10**9}},
        422,
    ),
    (
        "float quantity",
        "POST",
        "/carts/{cart}/items",
        {"json": {"product_id": 1, "quantity": 1.5}},
        422,
    ),
    (
        "unknown product",
        "POST",
        "/carts/{cart}/items",
        {"json": {"product_id": 99999999, "quantity": 1}},
        404,
    ),
    (
        "unknown cart",
        "POST",
        "/carts/99999999/items",
        {"json": {"product_id": 1, "quantity": 1}},
        404,
    ),
    ("unknown cart checkout", "POST", "/carts/99999999/checkout", {}, 404),
    ("unknown product detail", "GET", "/products/99999999", {}, 404),
    ("non-numeric id", "GET", "/products/abc", {}, 404),
    ("unknown order", "GET", "/orders/99999999", {}, 404),
    ("unknown user history", "GET", "/users/99999999/orders", {}, 404),
    ("page zero", "GET", "/products?page=0", {}, 422),
    ("page size too big", "GET", "/products?per_page=1000", {}, 422),
    ("unknown sort", "GET", "/products?sort=stock", {}, 422),
    ("unknown query parameter", "GET", "/products?colour=red", {}, 422),
    ("search without text", "GET", "/products/search", {}, 422),
    (
        "oversized body",
        "POST",
        "/carts",
        {"data": '{"product_id": 1, "pad": "' + "x" * 70_000 + '"}', "headers": JSON},
        413,
    ),
    ("id beyond integer range", "GET", "/products/3000000000", {}, 404),
    ("cart id beyond integer range", "POST", "/carts/3000000000/checkout", {}, 404),
    (
        "product id beyond integer range",
        "POST",
        "/orders",
        {"json": {"product_id": 3_000_000_000, "quantity": 1}},
        422,
    ),
    ("price beyond integer range", "GET", "/products?min_price_cents=3000000000", {}, 422),
    ("page beyond range", "GET", "/products?page=99999999999", {}, 422),
    ("NUL in search", "GET", "/products/search?q=a%00b", {}, 422),
    ("NUL in category", "GET", "/products?category=%00", {}, 422),
    (
        "deeply nested JSON",
        "POST",
        "/carts",
        {"data": "[" * 20_000 + "]" * 20_000, "headers": JSON},
        400,
    ),
    ("unknown route", "GET", "/no/such/route", {}, 404),
    ("wrong method", "DELETE", "/products", {}, 405),
    ("wrong method on checkout", "GET", "/carts/1/checkout", {}, 405),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_input_gets_a_json_4xx(
    client: FlaskClient,
    new_cart: Callable[..., int],
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    response = client.open(path.format(cart=new_cart()), method=method, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert response.is_json and isinstance(body, dict)
    assert body["status"] == status
    assert body["error"]


def test_validation_errors_name_the_field(
    client: FlaskClient, new_cart: Callable[..., int]
) -> None:
    body = client.post(
        f"/carts/{new_cart()}/items", json={"product_id": 1, "quantity": 0}
    ).get_json()
    assert body["details"][0]["loc"] == ["quantity"]
