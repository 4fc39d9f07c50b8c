"""Rate limits: failed logins per account, logins per address; 429 with Retry-After."""

from __future__ import annotations

from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from tests.conftest import AppFactory
from tests.target_app.accounts_helpers import PASSWORD, new_account


def limited(scope: str) -> float:
    return REGISTRY.get_sample_value("shop_rate_limited_total", {"limit": scope}) or 0.0


def attempt(client: FlaskClient, email: str, password: str) -> int:
    return client.post("/auth/login", json={"email": email, "password": password}).status_code


def test_failed_logins_of_one_account_are_limited(make_app: AppFactory) -> None:
    client = make_app(login_limit_per_account="3 per minute").test_client()
    target, bystander = new_account(client), new_account(client)
    before = limited("login-account")
    assert [attempt(client, target["email"], "guess-" + str(n) * 6) for n in range(3)] == [401] * 3
    # The fourth try is refused before the password is even checked, the right one too.
    answer = client.post("/auth/login", json={"email": target["email"], "password": PASSWORD})
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.get_json()["status"] == 429 and "error" in answer.get_json()
    assert limited("login-account") == before + 1
    # Another account is not locked by the attack on this one.
    assert attempt(client, bystander["email"], PASSWORD) == 200


def test_successful_logins_do_not_use_up_the_account_limit(make_app: AppFactory) -> None:
    client = make_app(login_limit_per_account="2 per minute").test_client()
    account = new_account(client)
    assert [attempt(client, account["email"], PASSWORD) for _ in range(4)] == [200] * 4


def test_logins_from_one_address_are_limited(make_app: AppFactory) -> None:
    client = make_app(login_limit_per_address="2 per minute").test_client()
    account = new_account(client)
    codes = [attempt(client, account["email"], PASSWORD) for _ in range(3)]
    assert codes == [200, 200, 429]
    other_address = client.post(
        "/auth/login",
        json={"email": account["email"], "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "127.0.0.2"},
    )
    assert other_address.status_code == 200
