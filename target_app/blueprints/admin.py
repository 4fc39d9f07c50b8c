"""The admin surface: bug switches and recent failures; loopback only, token required."""

from __future__ import annotations

import hmac
import ipaddress
import os

from flask import Blueprint, current_app, request
from pydantic import BaseModel
from spectree import Response

from target_app.api import api
from target_app.errors import NotFound, ShopError
from target_app.schemas import ErrorOut, SwitchSet
from target_app.switches import REGISTRY, SwitchBoard, UnknownSwitchError

bp = Blueprint("admin", __name__, url_prefix="/admin")


class Unauthorized(ShopError):
    status = 401


class Forbidden(ShopError):
    status = 403


class SwitchOut(BaseModel):
    name: str
    on: bool
    bug: str
    fix: str


class SwitchList(BaseModel):
    pid: int
    switches: list[SwitchOut]


class FailureOut(BaseModel):
    at: float
    type: str
    message: str


class FailureList(BaseModel):
    failures: list[FailureOut]


@bp.before_request
def _guard() -> None:
    """Refuse anyone but loopback callers holding the admin token."""
    if not ipaddress.ip_address(request.remote_addr or "0.0.0.0").is_loopback:
        raise Forbidden("the admin API answers loopback callers only")
    expected = current_app.extensions["settings"].resolved_admin_token()
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not expected or not given or not hmac.compare_digest(given, expected):
        raise Unauthorized("missing or wrong admin token (Authorization: Bearer <token>)")


def _board() -> SwitchBoard:
    return current_app.extensions["switches"]  # type: ignore[no-any-return]


def _listing(states: dict[str, bool]) -> SwitchList:
    return SwitchList(
        pid=os.getpid(),
        switches=[
            SwitchOut(name=name, on=states[name], bug=s.bug, fix=s.fix)
            for name, s in REGISTRY.items()
        ],
    )


_AUTH_ERRORS = {"HTTP_401": ErrorOut, "HTTP_403": ErrorOut}


@bp.get("/switches")
@api.validate(resp=Response(HTTP_200=SwitchList, **_AUTH_ERRORS), tags=["admin"])
def list_switches() -> SwitchList:
    """List the bug switches, their state as this worker sees it, and what each one breaks."""
    return _listing(_board().states())


@bp.put("/switches/<name>")
@api.validate(
    json=SwitchSet,
    resp=Response(HTTP_200=SwitchList, HTTP_404=ErrorOut, **_AUTH_ERRORS),
    tags=["admin"],
)
def set_switch(name: str) -> SwitchList:
    """Turn one bug on or off in every process of the stack."""
    body: SwitchSet = request.context.json  # type: ignore[attr-defined]
    try:
        return _listing(_board().set(name, body.on))
    except UnknownSwitchError as exc:
        raise NotFound(str(exc)) from None


@bp.post("/switches/reset")
@api.validate(resp=Response(HTTP_200=SwitchList, **_AUTH_ERRORS), tags=["admin"])
def reset_switches() -> SwitchList:
    """Turn every bug off."""
    return _listing(_board().reset())


@bp.get("/errors")
@api.validate(resp=Response(HTTP_200=FailureList, **_AUTH_ERRORS), tags=["admin"])
def recent_errors() -> FailureList:
    """Show the most recent checkout failures, newest first."""
    return FailureList(
        failures=[FailureOut(**f) for f in current_app.extensions["failures"].summaries()]
    )
