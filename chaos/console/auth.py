"""The console's one rule of access: read-only for anyone on loopback, actions need the admin token.

The token is the shop's admin token (FAULTYARD_ADMIN_TOKEN, else the state folder's
`admin-token` file that `faultyard up` writes), sent as `Authorization: Bearer TOKEN`,
exactly as the shop's admin API wants it. Starting a run or a drill, answering it and
anything else that changes the stack go through `require_admin`.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, request

from chaos.settings import StackSettings
from target_app.public import admin_token

View = TypeVar("View", bound=Callable[..., Any])


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def token_matches(settings: StackSettings, header: str | None) -> bool:
    """Return whether an Authorization header carries the stack's admin token."""
    expected = admin_token(settings.state_path)
    scheme, _, given = (header or "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def require_admin(view: View) -> View:
    """Refuse the request (JSON 403/401) unless it comes from loopback with the admin token."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not _loopback(request.remote_addr):
            abort(403, description="the console's actions answer loopback callers only")
        settings: StackSettings = current_app.config["STACK"]
        if not token_matches(settings, request.headers.get("Authorization")):
            abort(401, description="this action needs the admin token: `Authorization: Bearer "
                  f"TOKEN`, the token being in {settings.state_path / 'admin-token'}")  # fmt: skip
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]
