"""Rate limits (Flask-Limiter), counted in the stack's Redis so every worker shares them.

A limited route answers 429 with `Retry-After` and the X-RateLimit-* headers.
The limits are settings (Flask-Limiter's notation, e.g. "10 per minute"):
failed logins per account, login attempts per client address, checkouts per user.
Each app gets a limiter of its own (its storage, its key prefix), applied to its
views once they are registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

from target_app import limit_storage
from target_app.accounts.guard import caller_key
from target_app.config import ShopSettings
from target_app.instrumentation.account_metrics import LOGINS, RATE_LIMITED
from target_app.redis_client import CONNECT_TIMEOUT_S, READ_TIMEOUT_S


def _settings() -> ShopSettings:
    return current_app.extensions["settings"]  # type: ignore[no-any-return]


def client_address() -> str:
    """Return the client's address as the load balancer in front saw it.

    The last `trusted_proxy_hops` proxies append the address they got the request
    from to X-Forwarded-For; the client is the one that many entries from the end.
    Only the rate limits count by it: the admin API's loopback check keeps the TCP
    peer (a header is no proof of where a request came from).
    """
    hops = _settings().trusted_proxy_hops
    forwarded = ",".join(request.headers.getlist("X-Forwarded-For"))
    addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
    if hops and len(addresses) >= hops:
        return addresses[-hops]
    return request.remote_addr or "unknown"


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


def _never() -> bool:
    return False


@dataclass(frozen=True)
class RouteLimit:
    """One limit of one route: its setting, what it counts by, when it is skipped."""

    setting: str
    key: Callable[[], str]
    scope: str
    deduct_when: Callable[[Response], bool] | None = None
    exempt_when: Callable[[], bool] = _never


#: The limits, by endpoint.
LIMITS: dict[str, tuple[RouteLimit, ...]] = {
    "auth.login": (
        RouteLimit(
            "login_limit_per_address",
            client_address,
            "login-address",
            exempt_when=_logins_unprotected,
        ),
        RouteLimit(
            "login_limit_per_account",
            _login_account,
            "login-account",
            deduct_when=_failed,
            exempt_when=_logins_unprotected,
        ),
    ),
    "carts.checkout_cart": (RouteLimit("checkout_limit_per_user", caller_key, "checkout-user"),),
    "carts.buy_now": (RouteLimit("checkout_limit_per_user", caller_key, "checkout-user"),),
}
SCOPES = ("login-account", "login-address", "checkout-user")


def _count_breach(request_limit: RequestLimit) -> None:
    """Count a 429 by the limit it broke (and as a login outcome when it is a login's)."""
    # The last request argument is the limit's bucket: "ENDPOINT:SCOPE".
    bucket = str(request_limit.request_args[-1])
    scope = next((s for s in SCOPES if bucket.endswith(f":{s}") or bucket == s), "other")
    RATE_LIMITED.labels(scope).inc()
    if scope.startswith("login"):
        LOGINS.labels("limited").inc()


def _limit_value(setting: str) -> Callable[[], str]:
    return lambda: str(getattr(_settings(), setting))


def init_app(app: Flask, settings: ShopSettings) -> Limiter:
    """Give the app its limiter and put LIMITS on its views (call after the blueprints)."""
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        # Redis, failing open to memory (target_app.limit_storage) unless the bug is on;
        # the storage decides what a Redis error does, Flask-Limiter passes it on.
        storage_uri=limit_storage.SCHEME + settings.redis_url,
        storage_options={
            "socket_connect_timeout": CONNECT_TIMEOUT_S,
            "socket_timeout": READ_TIMEOUT_S,
        },
        key_prefix=settings.rate_limit_prefix,
        strategy="moving-window",
        headers_enabled=True,
        on_breach=_count_breach,
        swallow_errors=False,
        in_memory_fallback_enabled=False,
    )
    for endpoint, limits in LIMITS.items():
        view = app.view_functions[endpoint]
        for limit in limits:
            view = limiter.limit(
                _limit_value(limit.setting),
                key_func=limit.key,
                scope=limit.scope,
                deduct_when=limit.deduct_when,
                exempt_when=limit.exempt_when,
            )(view)
        app.view_functions[endpoint] = view
    app.extensions["limiter"] = limiter
    return limiter
