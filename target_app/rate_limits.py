"""Rate limits (Flask-Limiter), counted in the stack's Redis so every worker shares them.

A limited route answers 429 with `Retry-After` and the X-RateLimit-* headers.
The limits are settings (Flask-Limiter's notation, e.g. "10 per minute"):
failed logins per account, login attempts per client address, checkouts per user.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

from target_app.accounts.guard import caller_key
from target_app.config import ShopSettings
from target_app.instrumentation.account_metrics import LOGINS, RATE_LIMITED
from target_app.redis_client import CONNECT_TIMEOUT_S, READ_TIMEOUT_S

SCOPES = ("login-account", "login-address", "checkout-user")


def _count_breach(request_limit: RequestLimit) -> None:
    """Count a 429 by the limit it broke (and as a login outcome when it is a login's)."""
    # The last request argument is the limit's bucket: "ENDPOINT:SCOPE".
    bucket = str(request_limit.request_args[-1])
    scope = next((s for s in SCOPES if bucket.endswith(f":{s}") or bucket == s), "other")
    RATE_LIMITED.labels(scope).inc()
    if scope.startswith("login"):
        LOGINS.labels("limited").inc()


limiter = Limiter(
    key_func=get_remote_address,
    strategy="moving-window",
    headers_enabled=True,
    on_breach=_count_breach,
)


def init_app(app: Flask, settings: ShopSettings) -> None:
    """Count the app's limits in its Redis, under the settings' key prefix."""
    app.config["RATELIMIT_STORAGE_URI"] = settings.redis_url
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_timeout": READ_TIMEOUT_S,
    }
    app.config["RATELIMIT_KEY_PREFIX"] = settings.rate_limit_prefix
    # Fail open: while the limits' Redis is unreachable, each process counts in memory
    # (and Flask-Limiter retries Redis with a backoff) rather than answering 500.
    app.config["RATELIMIT_SWALLOW_ERRORS"] = True
    app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True
    limiter.init_app(app)


def _settings() -> ShopSettings:
    return current_app.extensions["settings"]  # type: ignore[no-any-return]


def _login_account() -> str:
    """Key failed logins by the account tried (its email, as sent)."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    return f"account:{email.strip().lower()}" if isinstance(email, str) else "account:?"


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _logins_unprotected() -> bool:
    """The `password_checks_on_hub` bug: logins are not rate limited."""
    return bool(current_app.extensions["switches"].is_on("password_checks_on_hub"))


login_per_account = limiter.limit(
    lambda: _settings().login_limit_per_account,
    key_func=_login_account,
    deduct_when=_failed,
    scope="login-account",
    exempt_when=_logins_unprotected,
)
login_per_address = limiter.limit(
    lambda: _settings().login_limit_per_address,
    key_func=get_remote_address,
    scope="login-address",
    exempt_when=_logins_unprotected,
)
checkout_per_user = limiter.limit(
    lambda: _settings().checkout_limit_per_user, key_func=caller_key, scope="checkout-user"
)
