"""`password_checks_on_hub`: the password hash holds the hub and logins go unlimited;
the fix hashes in gevent's thread pool and limits the attempts."""

from __future__ import annotations

from flask import Flask

from tests.conftest import AppFactory
from tests.target_app.accounts_helpers import PASSWORD, new_account
from tests.target_app.hub_ticker import longest_pause_of_others

SWITCH = "password_checks_on_hub"
#: Argon2id passes making one hash last well over the ticks here (the scenario's cost).
COST = 16


def login(app: Flask, email: str, password: str = PASSWORD) -> int:
    body = {"email": email, "password": password}
    return app.test_client(user_id=None).post("/auth/login", json=body).status_code


def pause_and_time(app: Flask, email: str) -> tuple[float, float]:
    """Log in once while another greenlet ticks (hub_ticker)."""
    statuses: list[int] = []
    pause, took = longest_pause_of_others(lambda: statuses.append(login(app, email)))
    assert statuses == [200]
    return pause, took


def hardened_app(make_app: AppFactory, *, bug: bool) -> tuple[Flask, str]:
    """A shop whose passwords cost COST passes to check, and an account hashed at that cost."""
    app = make_app(password_hash_time_cost=COST)
    app.extensions["switches"].set(SWITCH, bug)
    email = new_account(app.test_client(user_id=None))["email"]
    return app, email


def test_the_bug_stops_every_other_greenlet_while_it_hashes(make_app: AppFactory) -> None:
    app, email = hardened_app(make_app, bug=True)
    pause, took = pause_and_time(app, email)
    # The hash is most of the login and no other greenlet ran during it.
    assert pause > took / 2, (pause, took)


def test_the_fix_lets_the_others_run_while_it_hashes(make_app: AppFactory) -> None:
    app, email = hardened_app(make_app, bug=False)
    pause, took = pause_and_time(app, email)
    # The hash runs in a pool thread; the hub keeps turning (Argon2 releases the GIL).
    assert pause < took / 4, (pause, took)


def test_the_bug_lets_any_number_of_logins_through(make_app: AppFactory) -> None:
    app = make_app(login_limit_per_address="2 per minute", login_limit_per_account="2 per minute")
    account = new_account(app.test_client(user_id=None))
    app.extensions["switches"].set(SWITCH, True)
    assert [login(app, account["email"], "wrong-password") for _ in range(4)] == [401] * 4
    # Exempt attempts were not even counted: with the fix, the limit starts from here.
    app.extensions["switches"].set(SWITCH, False)
    codes = [login(app, account["email"], "wrong-password") for _ in range(3)]
    assert codes == [401, 401, 429]
