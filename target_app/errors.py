"""The shop's error types and the handlers that turn every error into a JSON answer."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from target_app.instrumentation import tracing
from target_app.pgerrors import sqlstate

log = logging.getLogger(__name__)

DEADLOCK_SQLSTATE = "40P01"
DATA_EXCEPTION_CLASS = "22"


class ShopError(Exception):
    """A failure with a status code and a message meant for the client."""

    status = 400
    #: Response headers the answer carries (WWW-Authenticate on a 401).
    headers: dict[str, str] = {}  # noqa: RUF012 (never mutated: replaced per instance)

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(ShopError):
    status = 404


class Unauthorized(ShopError):
    """No valid credentials: answered with a WWW-Authenticate challenge (RFC 6750)."""

    status = 401

    def __init__(self, message: str, *, challenge: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.headers = {"WWW-Authenticate": challenge}


class Forbidden(ShopError):
    status = 403


class Conflict(ShopError):
    status = 409


class Unprocessable(ShopError):
    status = 422


class Unavailable(ShopError):
    status = 503


def error_body(status: int, message: str, **details: Any) -> tuple[Response, int]:
    """Return the JSON error every failing route answers with."""
    return jsonify({"error": message, "status": status, **details}), status


def register_error_handlers(app: Flask) -> None:
    """Answer every error as JSON with the right status; only server faults are 5xx."""

    @app.errorhandler(ShopError)
    def _shop_error(exc: ShopError) -> ResponseReturnValue:
        response, status = error_body(exc.status, exc.message, **exc.details)
        return response, status, exc.headers

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        # spectree aborts with a ready response for validation errors: keep it.
        if exc.response is not None:
            return exc.response
        response, status = error_body(exc.code or 500, exc.description or exc.name)
        # Keep what the error's headers say (Allow on a 405), but not its HTML type.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return response, status, headers

    @app.errorhandler(PoolTimeoutError)
    def _pool_timeout(exc: PoolTimeoutError) -> ResponseReturnValue:
        log.error("database connection pool exhausted", extra={"error": str(exc)})
        tracing.record_error(exc)
        return error_body(503, "database connection pool exhausted, try again later")

    @app.errorhandler(DBAPIError)
    def _db_error(exc: DBAPIError) -> ResponseReturnValue:
        code = sqlstate(exc)
        log.error("database error", extra={"sqlstate": code, "error": str(exc.orig)})
        if code and code.startswith(DATA_EXCEPTION_CLASS):
            # A value PostgreSQL cannot store: the input's fault, not the server's.
            return error_body(422, "a value is out of range or malformed", sqlstate=code)
        tracing.record_error(exc)
        if code == DEADLOCK_SQLSTATE:
            return error_body(503, "deadlock detected, try again", sqlstate=code)
        return error_body(503, "database unavailable", sqlstate=code)
