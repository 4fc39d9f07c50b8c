"""Catalog endpoints through the Flask test client, on the stack's seeded database."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient


def test_list_paginates_with_total(client: FlaskClient) -> None:
    first = client.get("/products?per_page=5&page=1").get_json()
    second = client.get("/products?per_page=5&page=2").get_json()
    assert first["total"] >= 1000
    assert len(first["items"]) == len(second["items"]) == 5
    assert {p["id"] for p in first["items"]}.isdisjoint(p["id"] for p in second["items"])


def test_list_filters_by_category_price_and_stock(
    client: FlaskClient, new_products: Callable[..., list[int]]
) -> None:
    in_stock, sold_out = new_products(3, 0, category="filtering", price_cents=777)
    body = client.get(
        "/products?category=filtering&min_price_cents=777&max_price_cents=777"
    ).get_json()
    assert {p["id"] for p in body["items"]} >= {in_stock, sold_out}
    assert all(p["category"] == "filtering" and p["price_cents"] == 777 for p in body["items"])
    available = client.get("/products?category=filtering&in_stock=true&per_page=100").get_json()
    assert sold_out not in {p["id"] for p in available["items"]}
    assert all(p["stock"] > 0 for p in available["items"])


def test_list_sorts_by_price_both_ways(client: FlaskClient) -> None:
    up = [
        p["price_cents"] for p in client.get("/products?sort=price&per_page=50").get_json()["items"]
    ]
    down = [
        p["price_cents"]
        for p in client.get("/products?sort=-price&per_page=50").get_json()["items"]
    ]
    assert up == sorted(up)
    assert down == sorted(down, reverse=True)
    assert up[0] <= down[-1] and down[0] >= up[-1]


def test_search_matches_names_case_insensitively(client: FlaskClient) -> None:
    body = client.get("/products/search?q=KETTLE&per_page=100").get_json()
    assert body["total"] > 0
    assert all("kettle" in p["name"].lower() for p in body["items"])


def test_search_treats_wildcards_literally(client: FlaskClient) -> None:
    assert client.get("/products/search?q=%25").get_json()["total"] == 0


def test_product_detail(client: FlaskClient, new_products: Callable[..., list[int]]) -> None:
    (product_id,) = new_products(42, price_cents=1234)
    body = client.get(f"/products/{product_id}").get_json()
    assert (body["id"], body["stock"], body["price_cents"]) == (product_id, 42, 1234)
