"""The catalog cache: off by default; on, catalog reads come from a per-process copy, no SQL."""

from __future__ import annotations

import time
from collections.abc import Callable

import gevent
import pytest
from flask import Flask
from prometheus_client import REGISTRY
from sqlalchemy import Engine, update

from target_app.models import Product
from target_app.schemas import ProductOut
from target_app.services.catalog_cache import CatalogCache
from tests.conftest import AppFactory, recorded_statements


def counted(kind: str, view: str) -> float:
    return REGISTRY.get_sample_value(f"shop_catalog_cache_{kind}_total", {"view": view}) or 0.0


def cached_app(make_app: AppFactory, ttl_s: float) -> Flask:
    app = make_app()
    app.extensions["runtime_settings"].set("catalog_cache_ttl_s", ttl_s)
    return app


def test_off_by_default_every_read_runs_sql(
    app: Flask, new_products: Callable[..., list[int]]
) -> None:
    (product,) = new_products(7)
    client = app.test_client()
    hits = counted("hits", "detail")
    for _ in range(2):
        with recorded_statements(app) as seen:
            assert client.get(f"/products/{product}").status_code == 200
        assert seen
    assert counted("hits", "detail") == hits


def test_a_second_detail_read_runs_no_sql_and_counts_a_hit(
    make_app: AppFactory, new_products: Callable[..., list[int]]
) -> None:
    app = cached_app(make_app, 30)
    (product,) = new_products(7)
    client = app.test_client()
    hits, misses = counted("hits", "detail"), counted("misses", "detail")

    with recorded_statements(app) as first_sql:
        first = client.get(f"/products/{product}")
    with recorded_statements(app) as second_sql:
        second = client.get(f"/products/{product}")

    assert first_sql and not second_sql
    assert first.status_code == second.status_code == 200
    assert first.get_json() == second.get_json()
    assert counted("misses", "detail") == misses + 1
    assert counted("hits", "detail") == hits + 1


@pytest.mark.parametrize(
    ("view", "path"),
    [("list", "/products?category=cache-test&per_page=5"), ("search", "/products/search?q=item")],
)
def test_list_and_search_pages_are_cached_too(
    make_app: AppFactory, new_products: Callable[..., list[int]], view: str, path: str
) -> None:
    app = cached_app(make_app, 30)
    new_products(3, category="cache-test")
    client = app.test_client()
    hits = counted("hits", view)
    first = client.get(path).get_json()
    with recorded_statements(app) as seen:
        second = client.get(path).get_json()
        other_page = client.get(path + "&page=2")
    assert not seen and second == first
    assert other_page.status_code == 200  # the whole catalog is in the copy: no SQL either
    assert counted("hits", view) == hits + 2


#: Every filter, sort and edge the catalog's SQL handles; ties in price and name order by id.
QUERIES = [
    "/products",
    "/products?category=cache-eq",
    "/products?category=cache-eq&sort=price",
    "/products?category=cache-eq&sort=-price",
    "/products?category=cache-eq&sort=name",
    "/products?category=cache-eq&sort=-name",
    "/products?sort=-id&per_page=7&page=3",
    "/products?sort=-price&per_page=50&page=2",
    "/products?sort=name&per_page=13&page=5",
    "/products?min_price_cents=1000&max_price_cents=1000",
    "/products?min_price_cents=40000",
    "/products?in_stock=false",
    "/products?in_stock=true&category=books&page=2",
    "/products?page=99999",
    "/products/search?q=item",
    "/products/search?q=ITEM&per_page=3&page=2",
    "/products/search?q=Cache%20Twin",
    "/products/search?q=%25",
    "/products/search?q=_",
    "/products/search?q=zzz-nothing",
]


def test_the_copy_answers_exactly_as_the_database_does(
    make_app: AppFactory, db: Engine, new_products: Callable[..., list[int]]
) -> None:
    ids = new_products(0, 3, 3, 0, 9, category="cache-eq")  # equal prices: ties by id
    with db.begin() as conn:  # equal names too, and mixed case
        conn.execute(update(Product).where(Product.id.in_(ids[:3])).values(name="Cache Twin"))
        conn.execute(update(Product).where(Product.id == ids[3]).values(name="cache twin"))
    database, copy = make_app(), cached_app(make_app, 30)
    assert copy.test_client().get("/products/1").status_code == 200  # the copy is made
    for path in QUERIES:
        expected = database.test_client().get(path)
        with recorded_statements(copy) as seen:
            got = copy.test_client().get(path)
        assert not seen, path  # answered from the copy
        assert got.status_code == expected.status_code == 200, path
        assert got.get_json() == expected.get_json(), path
    for product_id in (*ids, 1, 2147483647):
        expected = database.test_client().get(f"/products/{product_id}")
        got = copy.test_client().get(f"/products/{product_id}")
        assert (got.status_code, got.get_json()) == (expected.status_code, expected.get_json())


def test_a_checkout_here_refreshes_the_products_detail(
    make_app: AppFactory, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    app = cached_app(make_app, 30)
    (product,) = new_products(10)
    client = app.test_client()
    assert client.get(f"/products/{product}").get_json()["stock"] == 10
    assert client.post(f"/carts/{new_cart((product, 3))}/checkout").status_code == 201
    assert client.get(f"/products/{product}").get_json()["stock"] == 7


def test_other_processes_see_new_stock_once_their_entry_expires(
    make_app: AppFactory, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    ttl_s = 0.5
    reader, buyer = cached_app(make_app, ttl_s), make_app()  # two processes' caches
    (product,) = new_products(10)
    assert reader.test_client().get(f"/products/{product}").get_json()["stock"] == 10
    assert buyer.test_client().post(f"/carts/{new_cart((product, 2))}/checkout").status_code == 201
    # Stale within the TTL, as the guide says; fresh after it.
    assert reader.test_client().get(f"/products/{product}").get_json()["stock"] == 10
    time.sleep(ttl_s)
    assert reader.test_client().get(f"/products/{product}").get_json()["stock"] == 8


def test_turning_the_cache_off_at_runtime_reads_fresh_rows_at_once(
    make_app: AppFactory, new_products: Callable[..., list[int]]
) -> None:
    app = cached_app(make_app, 30)
    (product,) = new_products(4)
    client = app.test_client()
    client.get(f"/products/{product}")
    app.extensions["runtime_settings"].set("catalog_cache_ttl_s", 0)
    time.sleep(app.extensions["settings"].switch_refresh_s)
    with recorded_statements(app) as seen:
        client.get(f"/products/{product}")
    assert seen


def test_a_catalog_too_big_to_copy_is_read_from_the_database(
    make_app: AppFactory, new_products: Callable[..., list[int]]
) -> None:
    app = make_app(catalog_cache_max_products=5)  # the seed alone has more
    app.extensions["runtime_settings"].set("catalog_cache_ttl_s", 30)
    (product,) = new_products(3)
    client = app.test_client()
    misses = counted("misses", "detail")
    for _ in range(2):
        with recorded_statements(app) as seen:
            assert client.get(f"/products/{product}").status_code == 200
        assert seen
    assert counted("misses", "detail") == misses + 2


def test_a_product_added_after_the_copy_is_read_from_the_database(
    make_app: AppFactory, new_products: Callable[..., list[int]]
) -> None:
    app = cached_app(make_app, 30)
    client = app.test_client()
    assert client.get("/products/1").status_code == 200  # the copy is made
    (product,) = new_products(3)
    assert client.get(f"/products/{product}").get_json()["stock"] == 3


def test_an_unknown_product_is_not_cached(make_app: AppFactory) -> None:
    app = cached_app(make_app, 30)
    client = app.test_client()
    for _ in range(2):
        with recorded_statements(app) as seen:
            assert client.get("/products/2147483647").status_code == 404
        assert seen


def test_one_request_reloads_while_the_others_keep_the_previous_copy() -> None:
    cache = CatalogCache(max_products=10)
    loads: list[int] = []

    def slow_load(limit: int) -> list[ProductOut]:
        loads.append(limit)
        gevent.sleep(0.2)  # a slow link: other requests arrive meanwhile
        product = ProductOut(id=1, sku="S", name="N", category="c", price_cents=1, stock=len(loads))
        return [product]

    def read(ttl_s: float) -> tuple[int | None, bool]:
        snapshot, loaded = cache.snapshot(ttl_s=ttl_s, load=slow_load)
        return (snapshot.by_id[1].stock if snapshot else None), loaded

    first = [gevent.spawn(read, 60) for _ in range(5)]
    gevent.joinall(first, raise_error=True)
    # No copy yet: one request loads it and the others wait for that one.
    assert sorted(job.value for job in first) == [(1, False)] * 4 + [(1, True)]
    assert len(loads) == 1

    expired = [gevent.spawn(read, 0.000001) for _ in range(5)]
    gevent.joinall(expired, raise_error=True)
    # Expired: one request reloads, the others are served the previous copy at once.
    assert sorted(job.value for job in expired) == [(1, False)] * 4 + [(2, True)]
    assert len(loads) == 2
