"""Accounts: register, log in, refresh, log out (here or everywhere), who am I."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, current_app, request
from spectree import Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from target_app.accounts import access_tokens, refresh_tokens
from target_app.accounts.guard import REALM, current_caller, requires_token
from target_app.accounts.passwords import hash_password, verify_password
from target_app.accounts.refresh_tokens import RefreshRefused
from target_app.accounts.schemas import (
    Credentials,
    RefreshRequest,
    Registration,
    TokenPair,
    UserOut,
)
from target_app.api import api, errors
from target_app.config import ShopSettings
from target_app.db import request_session
from target_app.errors import Conflict, NotFound, Unauthorized
from target_app.instrumentation.account_metrics import LOGINS, PASSWORD_HASH_SECONDS, REFRESHES
from target_app.models import User
from target_app.offload import off_the_hub
from target_app.runtime_settings import current_settings

bp = Blueprint("auth", __name__)
T = TypeVar("T")

WRONG_CREDENTIALS = "wrong email or password"


def _settings() -> ShopSettings:
    """The settings, with the runtime ones (the password hash's cost) as they are now."""
    return current_settings()


def user_out(user: User) -> UserOut:
    return UserOut(id=user.id, email=user.email, name=user.name, role=user.role)  # type: ignore[arg-type]


def _pair(user: User, refresh_token: str) -> TokenPair:
    settings = _settings()
    return TokenPair(
        access_token=access_tokens.issue(settings, user_id=user.id, role=user.role),
        expires_in=settings.access_token_ttl_s,
        refresh_token=refresh_token,
    )


@bp.post("/auth/register")
@api.validate(
    json=Registration, resp=Response(HTTP_201=UserOut, **errors(409, 503)), tags=["accounts"]
)
def register() -> tuple[UserOut, int]:
    """Open a shopper account; log in with it at /auth/login."""
    body: Registration = request.context.json  # type: ignore[attr-defined]
    settings = _settings()
    encoded = _timed(
        hash_password,
        body.password,
        time_cost=settings.password_hash_time_cost,
        memory_kib=settings.password_hash_memory_kib,
    )
    session = request_session()
    user = User(email=body.email.lower(), name=body.name, password_hash=encoded, role="shopper")
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("an account with this email exists: log in instead") from None
    return user_out(user), 201


@bp.post("/auth/login")
@api.validate(
    json=Credentials,
    resp=Response(HTTP_200=TokenPair, **errors(401, 429, 503)),
    tags=["accounts"],
)
def login() -> TokenPair:
    """Trade an email and password for an access token and a refresh token.

    A wrong password and an unknown email get the same answer, in the same time.
    """
    body: Credentials = request.context.json  # type: ignore[attr-defined]
    settings = _settings()
    session = request_session()
    user = session.scalar(select(User).where(User.email == body.email.strip().lower()))
    matches = _timed(
        verify_password,
        body.password,
        user.password_hash if user else None,
        time_cost=settings.password_hash_time_cost,
        memory_kib=settings.password_hash_memory_kib,
    )
    if user is None or not matches:
        LOGINS.labels("failed").inc()
        raise Unauthorized(WRONG_CREDENTIALS, challenge=f'Bearer realm="{REALM}"')
    token = refresh_tokens.start_family(
        session, user_id=user.id, ttl_s=settings.refresh_token_ttl_s
    )
    session.commit()
    LOGINS.labels("ok").inc()
    return _pair(user, token)


@bp.post("/auth/refresh")
@api.validate(
    json=RefreshRequest,
    resp=Response(HTTP_200=TokenPair, **errors(401, 503)),
    tags=["accounts"],
)
def refresh() -> TokenPair:
    """Spend a refresh token for a new pair. A token works once: a second use revokes its family."""
    body: RefreshRequest = request.context.json  # type: ignore[attr-defined]
    try:
        rotated = refresh_tokens.rotate(
            request_session(), body.refresh_token, ttl_s=_settings().refresh_token_ttl_s
        )
    except RefreshRefused as exc:
        REFRESHES.labels("reused" if "already used" in str(exc) else "refused").inc()
        raise Unauthorized(
            str(exc), challenge=f'Bearer realm="{REALM}", error="invalid_token"'
        ) from None
    REFRESHES.labels("ok").inc()
    return _pair(rotated.user, rotated.refresh_token)


@bp.post("/auth/logout")
@api.validate(json=RefreshRequest, resp=Response("HTTP_204", **errors(503)), tags=["accounts"])
def logout() -> tuple[str, int]:
    """End the session a refresh token belongs to (its access tokens expire on their own)."""
    body: RefreshRequest = request.context.json  # type: ignore[attr-defined]
    session = request_session()
    family = refresh_tokens.family_of(session, body.refresh_token)
    if family is not None:
        refresh_tokens.revoke_family(session, family)
        session.commit()
    return "", 204


@bp.post("/auth/logout-all")
@requires_token()
@api.validate(resp=Response("HTTP_204", **errors(401, 503)), tags=["accounts"])
def logout_everywhere() -> tuple[str, int]:
    """End every session of the caller: no refresh token of theirs works any more."""
    refresh_tokens.revoke_user(request_session(), current_caller().user_id)
    return "", 204


@bp.get("/me")
@requires_token()
@api.validate(resp=Response(HTTP_200=UserOut, **errors(401, 404, 503)), tags=["accounts"])
def me() -> UserOut:
    """Show the caller's account."""
    user = request_session().get(User, current_caller().user_id)
    if user is None:
        raise NotFound("this account no longer exists")
    return user_out(user)


def _timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a password hash or check off the hub, and measure how long the request waited."""
    started = time.perf_counter()
    try:
        if current_app.extensions["switches"].is_on("password_checks_on_hub"):
            # BUG: the hash runs in the request's greenlet: the worker's event loop
            # serves nothing else until it is done (a few hundred ms at a high cost).
            return fn(*args, **kwargs)
        # FIX: in gevent's thread pool; the hub goes on serving the worker's requests.
        return off_the_hub(fn, *args, **kwargs)
    finally:
        PASSWORD_HASH_SECONDS.observe(time.perf_counter() - started)
