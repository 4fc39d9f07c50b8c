"""`rate_limiter_fails_closed`: with the limits' Redis unreachable, the bug answers 500 on every
limited route; the fix counts the limits in memory and goes on."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from prometheus_client import REGISTRY

from chaos.ports import free_port
from target_app.seed_data import DEMO_PASSWORD, USERS
from tests.conftest import AppFactory

SWITCH = "rate_limiter_fails_closed"
EMAIL = USERS[1][0]


def counted(storage: str) -> float:
    return REGISTRY.get_sample_value("shop_rate_limit_checks_total", {"storage": storage}) or 0.0


def without_redis(make_app: AppFactory, *, bug: bool, **settings: object) -> Flask:
    """A shop whose Redis is a port nobody listens on (refused at once)."""
    app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0", **settings)
    app.extensions["switches"].set(SWITCH, bug)
    return app


def login(app: Flask) -> int:
    body = {"email": EMAIL, "password": DEMO_PASSWORD}
    return app.test_client(user_id=None).post("/auth/login", json=body).status_code


def test_the_bug_fails_every_limited_route(
    make_app: AppFactory, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    app = without_redis(make_app, bug=True)
    (product,) = new_products(5)
    assert login(app) == 500
    assert app.test_client().post(f"/carts/{new_cart((product, 1))}/checkout").status_code == 500
    assert app.test_client().get("/products/1").status_code == 200  # no limit, no failure


def test_the_fix_counts_in_memory_and_goes_on(
    make_app: AppFactory, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    app = without_redis(make_app, bug=False, login_limit_per_address="3 per minute")
    (product,) = new_products(5)
    before = counted("memory")
    assert app.test_client().post(f"/carts/{new_cart((product, 1))}/checkout").status_code == 201
    # The limits still hold, counted in this process's memory.
    assert [login(app) for _ in range(4)] == [200, 200, 200, 429]
    assert counted("memory") > before


def test_with_redis_up_the_limits_are_counted_in_redis(make_app: AppFactory) -> None:
    app = make_app()
    before = counted("redis")
    assert login(app) == 200
    assert counted("redis") > before
