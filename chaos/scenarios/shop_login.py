"""Access tokens for probes that read a shopper's own pages (an HTTP probe's `as_account`)."""

from __future__ import annotations

import time

import requests

from target_app.public import DEMO_PASSWORD

#: A token this close to expiring is replaced before use.
RENEW_BEFORE_S = 30.0


class LoginFailed(Exception):
    """The shop did not give the probe's account a token (down, slow, or refusing)."""


class ProbeLogins:
    """Log seeded accounts in with the demo password and keep their access tokens."""

    def __init__(self, http: requests.Session, shop_url: str) -> None:
        self._http = http
        self._shop_url = shop_url
        self._tokens: dict[str, tuple[str, float]] = {}

    def bearer(self, email: str, *, timeout_s: float) -> dict[str, str]:
        """Return the Authorization header of the account, logging it in when needed."""
        token, expires_at = self._tokens.get(email, ("", 0.0))
        if time.monotonic() > expires_at - RENEW_BEFORE_S:
            token = self._log_in(email, timeout_s)
        return {"Authorization": f"Bearer {token}"}

    def forget(self, email: str) -> None:
        """Drop the account's token (the shop refused it): the next use logs in again."""
        self._tokens.pop(email, None)

    def _log_in(self, email: str, timeout_s: float) -> str:
        try:
            answer = self._http.post(
                f"{self._shop_url}/auth/login",
                json={"email": email, "password": DEMO_PASSWORD},
                timeout=timeout_s,
                headers={"Connection": "close"},
            )
        except requests.RequestException as exc:
            raise LoginFailed(f"no answer to the login: {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise LoginFailed(f"the login answered {answer.status_code}")
        pair = answer.json()
        self._tokens[email] = (pair["access_token"], time.monotonic() + pair["expires_in"])
        return str(pair["access_token"])
