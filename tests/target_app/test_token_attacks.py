"""Access tokens: what the shop refuses (401 with a challenge) and what roles may do (403)."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient

from target_app.openapi import ACCESS_TOKEN_ROUTES
from target_app.public import admin_token
from target_app.seed_data import ADMIN_EMAIL, DEMO_PASSWORD
from tests.target_app.accounts_helpers import bearer, forged, log_in, new_account


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Nobody's client: these tests send the tokens themselves."""
    return app.test_client(user_id=None)


def shop_key(app: Flask) -> bytes:
    """The key the shop signs with (the state folder's jwt-secret file)."""
    return (app.extensions["settings"].state_dir / "jwt-secret").read_bytes().strip()


@pytest.fixture
def signed_in(app: Flask, client: FlaskClient) -> dict[str, str]:
    """A shopper's tokens (logging in makes the shop's key)."""
    return log_in(client, new_account(client)["email"])


def b64(part: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def test_no_token_gets_a_challenge(client: FlaskClient) -> None:
    answer = client.get("/me")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="faultyard-shop"'
    assert client.get("/me", headers={"Authorization": "Basic dXNlcjpwdw=="}).status_code == 401


def test_a_tampered_token_is_refused(client: FlaskClient, signed_in: dict[str, str]) -> None:
    header, payload, signature = signed_in["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    promoted = b64({**claims, "role": "admin"})
    answer = client.get("/me", headers=bearer(f"{header}.{promoted}.{signature}"))
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_alg_none_is_refused(client: FlaskClient, signed_in: dict[str, str]) -> None:
    claims = {"sub": "1", "role": "admin", "iat": int(time.time()), "exp": int(time.time()) + 60,
              "iss": "faultyard-shop", "aud": "faultyard-shop"}  # fmt: skip
    for alg in ("none", "None", "NONE"):
        unsigned = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}."
        assert client.get("/me", headers=bearer(unsigned)).status_code == 401, alg


def test_another_key_or_algorithm_is_refused(
    app: Flask, client: FlaskClient, signed_in: dict[str, str]
) -> None:
    assert (
        client.get(
            "/me", headers=bearer(forged({}, "not the shop's key, though long enough"))
        ).status_code
        == 401
    )
    # The shop's own key, but HS512: only HS256 is accepted.
    other_alg = forged({}, shop_key(app), algorithm="HS512")
    assert client.get("/me", headers=bearer(other_alg)).status_code == 401
    # The admin API's token is not an access token either.
    token = admin_token(app.extensions["settings"].state_dir) or "test-token"
    assert client.get("/me", headers=bearer(token)).status_code == 401


def test_an_expired_token_says_so(
    app: Flask, client: FlaskClient, signed_in: dict[str, str]
) -> None:
    old = int(time.time()) - 3600
    expired = forged({"iat": old, "exp": old + 300}, shop_key(app))
    answer = client.get("/me", headers=bearer(expired))
    assert (
        answer.status_code == 401 and answer.get_json()["error"] == "the access token has expired"
    )


@pytest.mark.parametrize(
    "claims",
    [{"aud": "someone-else"}, {"iss": "someone-else"}, {"sub": "admin"}, {"exp": None}],
    ids=["audience", "issuer", "subject", "no-expiry"],
)
def test_claims_the_shop_did_not_issue_are_refused(
    app: Flask, client: FlaskClient, signed_in: dict[str, str], claims: dict[str, object]
) -> None:
    token = forged(claims, shop_key(app))
    assert client.get("/me", headers=bearer(token)).status_code == 401


def product_body() -> dict[str, object]:
    return {"sku": f"T-{uuid.uuid4().hex[:12]}", "name": "Test Lamp", "category": "testing",
            "price_cents": 1999, "stock": 3}  # fmt: skip


def test_a_shopper_may_not_manage_products(client: FlaskClient, signed_in: dict[str, str]) -> None:
    shopper = bearer(signed_in["access_token"])
    assert client.post("/products", json=product_body(), headers=shopper).status_code == 403
    assert (
        client.put("/products/1/price", json={"price_cents": 1}, headers=shopper).status_code == 403
    )
    assert client.post("/products", json=product_body()).status_code == 401


def test_an_admin_creates_reprices_and_restocks(client: FlaskClient) -> None:
    admin = bearer(log_in(client, ADMIN_EMAIL, DEMO_PASSWORD)["access_token"])
    body = product_body()
    created = client.post("/products", json=body, headers=admin)
    assert created.status_code == 201
    product = created.get_json()
    assert client.post("/products", json=body, headers=admin).status_code == 409
    repriced = client.put(
        f"/products/{product['id']}/price", json={"price_cents": 2500}, headers=admin
    )
    assert repriced.get_json()["price_cents"] == 2500
    restocked = client.post(
        f"/products/{product['id']}/restock", json={"quantity": 7}, headers=admin
    )
    assert restocked.get_json()["stock"] == 10
    assert client.get(f"/products/{product['id']}").get_json()["stock"] == 10
    missing = client.post("/products/2147483000/restock", json={"quantity": 1}, headers=admin)
    assert missing.status_code == 404


def test_the_document_names_every_route_that_wants_a_token(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["accessToken"]["bearerFormat"] == "JWT"
    wanting = {
        (path, method)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") == [{"accessToken": []}]
    }
    assert wanting == ACCESS_TOKEN_ROUTES
    for path, method in sorted(wanting):
        # No token, and a body that would fail validation: the 401 comes first.
        answer = client.open(re.sub(r"\{\w+\}", "1", path), method=method, json={"x": 1})
        assert answer.status_code == 401, (path, method, answer.get_json())
        assert "401" in spec["paths"][path][method]["responses"]
