"""Refresh tokens kept server-side, rotated on every use, with reuse detection.

A login starts a family. Each refresh spends its token and issues the next one
in the family. A spent token presented again means two holders of one token:
one of them stole it, and which one cannot be told, so the whole family is
revoked (OAuth 2.0 Security BCP, "refresh token rotation"). Only a token's
SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from target_app.models import RefreshToken, User

log = logging.getLogger(__name__)


class RefreshRefused(Exception):
    """The refresh token is unknown, expired, revoked or reused."""


@dataclass(frozen=True)
class Rotated:
    """A refresh's outcome: whose token it was and the family's next token."""

    user: User
    refresh_token: str


def digest(token: str) -> str:
    """Return the stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _add(session: Session, *, user_id: int, family: str, ttl_s: int) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            user_id=user_id,
            family=family,
            token_hash=digest(token),
            expires_at=_now() + timedelta(seconds=ttl_s),
        )
    )
    return token


def start_family(session: Session, *, user_id: int, ttl_s: int) -> str:
    """Return the first refresh token of a new family (a login); the caller commits."""
    return _add(session, user_id=user_id, family=str(uuid.uuid4()), ttl_s=ttl_s)


def rotate(session: Session, token: str, *, ttl_s: int) -> Rotated:
    """Spend `token` and return its family's next one; commits.

    The token's row is locked: two refreshes of one token are serialised, and
    the second one sees it spent.
    """
    row = session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == digest(token)).with_for_update()
    )
    now = _now()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        session.rollback()
        raise RefreshRefused("the refresh token is invalid, expired or revoked")
    if row.used_at is not None:
        revoked = revoke_family(session, row.family, now=now)
        session.commit()
        log.warning(
            "refresh token reused: family revoked",
            extra={"user_id": row.user_id, "family": row.family, "revoked": revoked},
        )
        raise RefreshRefused("the refresh token was already used: its sessions are revoked")
    row.used_at = now
    user = session.get(User, row.user_id)
    assert user is not None  # a foreign key
    next_token = _add(session, user_id=row.user_id, family=row.family, ttl_s=ttl_s)
    session.commit()
    return Rotated(user=user, refresh_token=next_token)


def revoke_family(session: Session, family: str, *, now: datetime | None = None) -> int:
    """Revoke every live token of a family (a logout); return how many. The caller commits."""
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now or _now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def family_of(session: Session, token: str) -> str | None:
    """Return the family of a token (spent or not), None for an unknown one."""
    return session.scalar(
        select(RefreshToken.family).where(RefreshToken.token_hash == digest(token))
    )


def revoke_user(session: Session, user_id: int) -> int:
    """Revoke every live token of a user (log out everywhere); return how many. Commits."""
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
