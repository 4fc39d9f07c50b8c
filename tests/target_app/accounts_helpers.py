"""Helpers of the accounts tests: make an account, log in, forge tokens."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from flask.testing import FlaskClient

PASSWORD = "correct horse battery"


def new_account(client: FlaskClient, *, password: str = PASSWORD) -> dict[str, Any]:
    """Register an account of the test's own; return its answer plus the email and password."""
    email = f"user-{uuid.uuid4().hex[:10]}@example.test"
    answer = client.post(
        "/auth/register", json={"email": email, "password": password, "name": "Test"}
    )
    assert answer.status_code == 201, answer.get_json()
    return {**answer.get_json(), "password": password}


def log_in(client: FlaskClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    answer = client.post("/auth/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()  # type: ignore[no-any-return]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def forged(claims: dict[str, Any], key: str | bytes, algorithm: str = "HS256") -> str:
    """Return a token with these claims over the shop's usual ones (None drops one), signed as asked."""
    now = int(time.time())
    base = {
        "sub": "1",
        "role": "admin",
        "iat": now,
        "exp": now + 300,
        "iss": "faultyard-shop",
        "aud": "faultyard-shop",
    }
    merged = {k: v for k, v in {**base, **claims}.items() if v is not None}
    return jwt.encode(merged, key, algorithm=algorithm)
