"""Who is calling: the bearer access token of the request, checked once per request."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request

from target_app.accounts import access_tokens
from target_app.accounts.access_tokens import Caller, InvalidToken
from target_app.errors import Forbidden, Unauthorized

REALM = "faultyard-shop"
F = TypeVar("F", bound=Callable[..., Any])


def current_caller() -> Caller:
    """Return the caller of this request, or raise a 401 with its challenge."""
    caller: Caller | None = g.get("caller")
    if caller is not None:
        return caller
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "log in first: send Authorization: Bearer ACCESS_TOKEN",
            challenge=f'Bearer realm="{REALM}"',
        )
    try:
        caller = access_tokens.verify(current_app.extensions["settings"], token.strip())
    except InvalidToken as exc:
        raise Unauthorized(
            str(exc),
            challenge=f'Bearer realm="{REALM}", error="invalid_token", error_description="{exc}"',
        ) from None
    g.caller = caller
    return caller


def require_role(role: str) -> Caller:
    """Return the caller if it has `role`; 401 without a valid token, 403 with another role."""
    caller = current_caller()
    if caller.role != role:
        raise Forbidden(f"this needs the {role} role")
    return caller


def caller_key() -> str:
    """Return the rate-limit key of the caller: its user id ("anonymous" without a valid
    token: the route's own check answers 401)."""
    try:
        return f"user:{current_caller().user_id}"
    except Unauthorized:
        return "anonymous"


def requires_token(role: str | None = None) -> Callable[[F], F]:
    """Decorate a view: a valid access token (with `role`, if given) before anything else.

    Put it above `api.validate`: a caller without a token learns nothing from a
    validation error (401 comes first).
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if role is None:
                current_caller()
            else:
                require_role(role)
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate
