"""Accounts: registering, logging in, refresh-token rotation and reuse detection, logouts."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from target_app.seed_data import ADMIN_EMAIL, DEMO_PASSWORD, USERS
from tests.target_app.accounts_helpers import PASSWORD, bearer, log_in, new_account


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Nobody's client: these tests send the tokens themselves."""
    return app.test_client(user_id=None)


def test_a_new_account_logs_in_and_sees_itself(client: FlaskClient, db: Engine) -> None:
    account = new_account(client)
    assert account["role"] == "shopper"
    assert set(account) == {
        "id",
        "email",
        "name",
        "role",
        "password",
    }  # ours: the answer has no hash
    pair = log_in(client, account["email"])
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 300
    me = client.get("/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert me.get_json() == {k: account[k] for k in ("id", "email", "name", "role")}
    with db.connect() as conn:
        stored = conn.execute(
            text("SELECT password_hash FROM users WHERE id = :id"), {"id": account["id"]}
        ).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_the_seeded_accounts_log_in_with_the_demo_password(client: FlaskClient) -> None:
    for email, _name in USERS:
        pair = log_in(client, email, DEMO_PASSWORD)
        role = client.get("/me", headers=bearer(pair["access_token"])).get_json()["role"]
        assert role == ("admin" if email == ADMIN_EMAIL else "shopper")
    log_in(client, "customer-000001@example.test", DEMO_PASSWORD)


def test_an_email_registers_once_whatever_its_case(client: FlaskClient) -> None:
    account = new_account(client)
    again = client.post(
        "/auth/register",
        json={"email": account["email"].upper(), "password": PASSWORD, "name": "Twin"},
    )
    assert again.status_code == 409
    log_in(client, account["email"].upper())  # logging in ignores case too


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD, "name": "X"},
        {"email": "short@example.test", "password": "too short", "name": "X"},
        {"email": "long@example.test", "password": "x" * 129, "name": "X"},
        {"email": "extra@example.test", "password": PASSWORD, "name": "X", "role": "admin"},
    ],
)
def test_bad_registrations_are_refused(client: FlaskClient, body: dict[str, str]) -> None:
    answer = client.post("/auth/register", json=body)
    assert answer.status_code == 422, answer.get_json()


def test_wrong_password_and_unknown_email_answer_alike(client: FlaskClient) -> None:
    account = new_account(client)
    wrong = client.post("/auth/login", json={"email": account["email"], "password": "nope" * 3})
    unknown = client.post(
        "/auth/login", json={"email": "nobody@example.test", "password": "nope" * 3}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.get_json()
        == unknown.get_json()
        == {
            "error": "wrong email or password",
            "status": 401,
        }
    )
    assert wrong.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]


def test_passwords_never_reach_the_logs(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        account = new_account(client)
        log_in(client, account["email"])
        client.post("/auth/login", json={"email": account["email"], "password": "wrong" * 3})
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records and PASSWORD not in logged and "wrong" * 3 not in logged


def test_a_refresh_rotates_and_a_reused_token_revokes_its_family(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    account = new_account(client)
    first = log_in(client, account["email"])
    second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second_pair = second.get_json()
    assert second_pair["refresh_token"] != first["refresh_token"]
    assert client.get("/me", headers=bearer(second_pair["access_token"])).status_code == 200
    # The spent token again: a thief or a replay. The family goes, the fresh token with it.
    with caplog.at_level(logging.WARNING):
        reused = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401 and "already used" in reused.get_json()["error"]
    assert 'error="invalid_token"' in reused.headers["WWW-Authenticate"]
    assert any(r.getMessage() == "refresh token reused: family revoked" for r in caplog.records)
    revoked = client.post("/auth/refresh", json={"refresh_token": second_pair["refresh_token"]})
    assert revoked.status_code == 401
    # Another login (another family) is untouched.
    other = log_in(client, account["email"])
    assert (
        client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code
        == 200
    )


def test_an_unknown_refresh_token_is_refused(client: FlaskClient) -> None:
    answer = client.post("/auth/refresh", json={"refresh_token": "made-up"})
    assert answer.status_code == 401


def test_logout_ends_one_session_and_logout_all_every_one(client: FlaskClient) -> None:
    account = new_account(client)
    laptop, phone, tablet = (log_in(client, account["email"]) for _ in range(3))
    assert (
        client.post("/auth/logout", json={"refresh_token": laptop["refresh_token"]}).status_code
        == 204
    )
    refresh = {"refresh_token": laptop["refresh_token"]}
    assert client.post("/auth/refresh", json=refresh).status_code == 401
    phone_next = client.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert phone_next.status_code == 200
    everywhere = client.post("/auth/logout-all", headers=bearer(tablet["access_token"]))
    assert everywhere.status_code == 204
    for token in (phone_next.get_json()["refresh_token"], tablet["refresh_token"]):
        assert client.post("/auth/refresh", json={"refresh_token": token}).status_code == 401


def test_the_access_token_key_is_shared_through_the_state_folder(make_app: object) -> None:
    first: Flask = make_app()  # type: ignore[operator]
    second: Flask = make_app()  # type: ignore[operator]
    account = new_account(first.test_client())
    pair = log_in(first.test_client(), account["email"])
    assert second.test_client().get("/me", headers=bearer(pair["access_token"])).status_code == 200
