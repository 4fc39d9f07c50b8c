"""The admin surface: bug switches, runtime settings, recent failures; loopback only, token required."""

from __future__ import annotations

import hmac
import ipaddress
import os
import signal

import psutil
from flask import Blueprint, current_app, request
from pydantic import BaseModel
from spectree import Response

from target_app.api import api
from target_app.errors import Conflict, NotFound, ShopError, Unprocessable
from target_app.runtime_settings import REGISTRY as SETTINGS
from target_app.runtime_settings import (
    InvalidSettingError,
    RuntimeSettings,
    UnknownSettingError,
    Value,
)
from target_app.schemas import ErrorOut, SettingSet, SwitchSet
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


class ReloadOut(BaseModel):
    master_pid: int
    worker_pid: int


class WorkersOut(BaseModel):
    master_pid: int
    worker_pid: int
    workers: list[int]


class SettingOut(BaseModel):
    name: str
    value: Value
    default: Value
    overridden: bool
    type: str
    range: str
    read_by: str


class SettingList(BaseModel):
    pid: int
    settings: list[SettingOut]


class FailureOut(BaseModel):
    at: float
    type: str
    message: str


class FailureList(BaseModel):
    failures: list[FailureOut]


@bp.before_request
def guard() -> None:
    """Refuse anyone but loopback callers holding the admin token."""
    if not ipaddress.ip_address(request.remote_addr or "0.0.0.0").is_loopback:
        raise Forbidden("the admin API answers loopback callers only")
    expected = current_app.extensions["settings"].resolved_admin_token()
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not expected or not given or not hmac.compare_digest(given, expected):
        raise Unauthorized("missing or wrong admin token (Authorization: Bearer <token>)")


def _board() -> SwitchBoard:
    return current_app.extensions["switches"]  # type: ignore[no-any-return]


def _hidden() -> bool:
    """Return whether the listings are hidden now (a drill runs)."""
    return bool(current_app.extensions["settings"].listings_hidden_file.exists())


def _refuse_listing_if_hidden(what: str) -> None:
    if _hidden():
        raise Forbidden(f"the {what} are hidden while a drill runs; they show again once it ends")


def _listing(states: dict[str, bool], only: str | None = None) -> SwitchList:
    """List the switches; while hidden, only the one the request named (none for a reset)."""
    hidden = _hidden()
    return SwitchList(
        pid=os.getpid(),
        switches=[
            SwitchOut(name=name, on=states[name], bug=s.bug, fix=s.fix)
            for name, s in REGISTRY.items()
            if not hidden or name == only
        ],
    )


AUTH_ERRORS = {"HTTP_401": ErrorOut, "HTTP_403": ErrorOut}


@bp.get("/switches")
@api.validate(resp=Response(HTTP_200=SwitchList, **AUTH_ERRORS), tags=["admin"])
def list_switches() -> SwitchList:
    """List the bug switches, their state as the stack's file holds it now, and what each one breaks."""
    _refuse_listing_if_hidden("bug switches")
    return _listing(_board().states(fresh=True))


@bp.put("/switches/<name>")
@api.validate(
    json=SwitchSet,
    resp=Response(HTTP_200=SwitchList, HTTP_404=ErrorOut, **AUTH_ERRORS),
    tags=["admin"],
)
def set_switch(name: str) -> SwitchList:
    """Turn one bug on or off in every process of the stack."""
    body: SwitchSet = request.context.json  # type: ignore[attr-defined]
    try:
        return _listing(_board().set(name, body.on), only=name)
    except UnknownSwitchError as exc:
        raise NotFound(str(exc)) from None


@bp.post("/switches/reset")
@api.validate(resp=Response(HTTP_200=SwitchList, **AUTH_ERRORS), tags=["admin"])
def reset_switches() -> SwitchList:
    """Turn every bug off."""
    return _listing(_board().reset())


def _runtime() -> RuntimeSettings:
    return current_app.extensions["runtime_settings"]  # type: ignore[no-any-return]


def _settings_listing(only: str | None = None) -> SettingList:
    """List the settings; while hidden, only the one the request named (none for a reset)."""
    hidden = _hidden()
    defaults = current_app.extensions["settings"]
    overrides = _runtime().overrides(fresh=True)
    return SettingList(
        pid=os.getpid(),
        settings=[
            SettingOut(
                name=name,
                value=overrides.get(name, getattr(defaults, name)),
                default=getattr(defaults, name),
                overridden=name in overrides,
                type=s.type_name,
                range=s.bounds,
                read_by=s.read_by,
            )
            for name, s in SETTINGS.items()
            if not hidden or name == only
        ],
    )


@bp.get("/settings")
@api.validate(resp=Response(HTTP_200=SettingList, **AUTH_ERRORS), tags=["admin"])
def list_settings() -> SettingList:
    """List the settings that may change at runtime: value now, default, type and range."""
    _refuse_listing_if_hidden("runtime settings")
    return _settings_listing()


@bp.put("/settings/<name>")
@api.validate(
    json=SettingSet,
    resp=Response(HTTP_200=SettingList, HTTP_404=ErrorOut, HTTP_422=ErrorOut, **AUTH_ERRORS),
    tags=["admin"],
)
def set_setting(name: str) -> SettingList:
    """Change one setting in every process of the stack (404 unknown, 422 wrong type or range)."""
    body: SettingSet = request.context.json  # type: ignore[attr-defined]
    try:
        _runtime().set(name, body.value)
    except UnknownSettingError as exc:
        raise NotFound(str(exc)) from None
    except InvalidSettingError as exc:
        raise Unprocessable(str(exc)) from None
    return _settings_listing(only=name)


@bp.delete("/settings/<name>")
@api.validate(resp=Response(HTTP_200=SettingList, HTTP_404=ErrorOut, **AUTH_ERRORS), tags=["admin"])
def reset_setting(name: str) -> SettingList:
    """Put one setting back to its default (the environment's value)."""
    try:
        _runtime().reset(name)
    except UnknownSettingError as exc:
        raise NotFound(str(exc)) from None
    return _settings_listing(only=name)


@bp.post("/settings/reset")
@api.validate(resp=Response(HTTP_200=SettingList, **AUTH_ERRORS), tags=["admin"])
def reset_settings() -> SettingList:
    """Put every runtime setting back to its default."""
    _runtime().reset()
    return _settings_listing()


@bp.get("/errors")
@api.validate(resp=Response(HTTP_200=FailureList, **AUTH_ERRORS), tags=["admin"])
def recent_errors() -> FailureList:
    """Show the most recent checkout failures, newest first."""
    return FailureList(
        failures=[FailureOut(**f) for f in current_app.extensions["failures"].summaries()]
    )


@bp.post("/reload")
@api.validate(resp=Response(HTTP_200=ReloadOut, HTTP_409=ErrorOut, **AUTH_ERRORS), tags=["admin"])
def reload_shop() -> ReloadOut:
    """Reload the shop gracefully: SIGHUP to gunicorn's master, which starts new workers and
    retires the old ones once their requests are done (whatever they held goes with them).

    How the runner reloads a shop it cannot signal itself (the compose stack's).
    """
    master = _gunicorn_master()
    os.kill(master, signal.SIGHUP)
    return ReloadOut(master_pid=master, worker_pid=os.getpid())


@bp.get("/workers")
@api.validate(resp=Response(HTTP_200=WorkersOut, HTTP_409=ErrorOut, **AUTH_ERRORS), tags=["admin"])
def list_workers() -> WorkersOut:
    """List the gunicorn master's worker processes, old ones still retiring included.

    How the runner knows a reload is done where it cannot see the processes itself.
    """
    master = _gunicorn_master()
    try:
        workers = sorted(child.pid for child in psutil.Process(master).children())
    except psutil.Error as exc:
        raise Conflict(f"cannot list the workers of gunicorn master {master}: {exc}") from None
    return WorkersOut(master_pid=master, worker_pid=os.getpid(), workers=workers)


def _gunicorn_master() -> int:
    if not request.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/"):
        raise Conflict(
            "the shop is not served by gunicorn here: there is no master (nor its workers)"
        )
    return os.getppid()
