"""The SQLSTATE of an error from PostgreSQL, wherever it sits in the exception chain."""

from __future__ import annotations

_MAX_CHAIN = 5  # causes of causes are never deeper than this in the shop


def sqlstate(exc: BaseException | None) -> str | None:
    """Return the SQLSTATE behind an error, if there is one.

    Looks at a psycopg error itself, SQLAlchemy's DBAPIError wrapping one
    (`.orig`), and the errors it was raised from.
    """
    for _ in range(_MAX_CHAIN):
        if exc is None:
            return None
        orig = getattr(exc, "orig", None)
        code = getattr(exc, "sqlstate", None) or getattr(orig, "sqlstate", None)
        if code:
            return str(code)
        exc = exc.__cause__ or exc.__context__
    return None
