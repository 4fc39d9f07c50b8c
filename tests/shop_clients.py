"""Shop clients of the tests: a Flask test client acting as a user, and logins through a stack."""

from __future__ import annotations

import time
from typing import Any

from flask.testing import FlaskClient

from target_app.accounts import access_tokens

#: The user the tests' shop clients act as unless told otherwise (the seed's first user).
TEST_USER_ID = 1


class ShopClient(FlaskClient):
    """A test client acting as a user: `app.test_client()` is user 1 (TEST_USER_ID),
    `app.test_client(user_id=3)` user 3, `app.test_client(user_id=None)` nobody.

    The access token is minted with the app's key, as a login would give it.
    """

    def __init__(self, *args: Any, user_id: int | None = TEST_USER_ID, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user_id is not None:
            settings = self.application.extensions["settings"]
            token = access_tokens.issue(settings, user_id=user_id, role="shopper")
            self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"


_LOGINS: dict[tuple[str, int], tuple[dict[str, str], float]] = {}


def login_headers(base_url: str, user_id: int = TEST_USER_ID) -> dict[str, str]:
    """Log a seeded user in through a running shop; return its Authorization header.

    Kept for a minute (the token lives five): polling loops do not log in at every turn,
    which the shop's login limit per address would soon refuse.
    """
    import requests

    cached, until = _LOGINS.get((base_url, user_id), ({}, 0.0))
    if time.monotonic() < until:
        return cached

    from target_app.seed_data import DEMO_PASSWORD, USERS, customer_email

    email = USERS[user_id - 1][0] if user_id <= len(USERS) else customer_email(user_id)
    answer = requests.post(
        f"{base_url}/auth/login", json={"email": email, "password": DEMO_PASSWORD}, timeout=10
    )
    answer.raise_for_status()
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    _LOGINS[(base_url, user_id)] = (headers, time.monotonic() + 60)
    return headers
