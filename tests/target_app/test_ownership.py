"""A shopper's carts and orders are theirs alone: another's are not found (404), nobody's 401."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from tests.conftest import AppFactory

OWNER, OTHER = 1, 2


def test_another_users_cart_and_order_are_not_found(
    app: Flask, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    (product,) = new_products(5)
    owner, other = app.test_client(user_id=OWNER), app.test_client(user_id=OTHER)
    cart = owner.post("/carts").get_json()["id"]
    item = {"product_id": product, "quantity": 1}
    assert owner.post(f"/carts/{cart}/items", json=item).status_code == 200
    # The other user learns nothing, not even that the cart exists.
    unknown = other.get("/carts/2147483000").get_json()["error"].replace("2147483000", str(cart))
    for answer in (
        other.get(f"/carts/{cart}"),
        other.post(f"/carts/{cart}/items", json=item),
        other.delete(f"/carts/{cart}/items/{product}"),
        other.post(f"/carts/{cart}/checkout"),
    ):
        assert answer.status_code == 404 and answer.get_json()["error"] == unknown
    placed = owner.post(f"/carts/{cart}/checkout")
    assert placed.status_code == 201
    order = placed.get_json()
    assert order["user_id"] == OWNER
    assert other.get(f"/orders/{order['id']}").status_code == 404
    assert other.get(f"/users/{OWNER}/orders").status_code == 404
    assert owner.get(f"/orders/{order['id']}").status_code == 200
    assert order["id"] in [o["id"] for o in owner.get(f"/users/{OWNER}/orders").get_json()["items"]]
    # A cart made by the test for user 1 is not user 2's to buy either.
    assert other.post(f"/carts/{new_cart((product, 1))}/checkout").status_code == 404


def test_buy_now_buys_for_the_caller(app: Flask, new_products: Callable[..., list[int]]) -> None:
    (product,) = new_products(5)
    answer = app.test_client(user_id=OTHER).post(
        "/orders", json={"product_id": product, "quantity": 1}
    )
    assert answer.status_code == 201 and answer.get_json()["user_id"] == OTHER


def test_nobody_gets_a_challenge_on_every_shopper_route(
    app: Flask, new_cart: Callable[..., int]
) -> None:
    nobody = app.test_client(user_id=None)
    cart = new_cart()
    for method, path in [
        ("POST", "/carts"),
        ("GET", f"/carts/{cart}"),
        ("POST", f"/carts/{cart}/items"),
        ("DELETE", f"/carts/{cart}/items/1"),
        ("POST", f"/carts/{cart}/checkout"),
        ("POST", "/orders"),
        ("GET", "/orders/1"),
        ("GET", f"/users/{OWNER}/orders"),
    ]:
        answer = nobody.open(path, method=method)
        assert answer.status_code == 401, (method, path)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_checkouts_per_user_are_limited(
    make_app: AppFactory, new_products: Callable[..., list[int]], new_cart: Callable[..., int]
) -> None:
    app = make_app(checkout_limit_per_user="2 per minute")
    (product,) = new_products(10)
    shopper = app.test_client(user_id=OWNER)
    codes = [
        shopper.post(f"/carts/{new_cart((product, 1))}/checkout").status_code for _ in range(3)
    ]
    assert codes == [201, 201, 429]
    # Another shopper is not held back by this one.
    assert (
        app.test_client(user_id=OTHER)
        .post("/orders", json={"product_id": product, "quantity": 1})
        .status_code
        == 201
    )
