"""Short-lived access tokens: JWTs signed with HS256, checked strictly (PyJWT).

Only HS256 is accepted, so `alg: none` and tokens signed with another algorithm
or key are refused; `exp`, `iat`, `sub`, the issuer and the audience are required.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt

from target_app.config import ShopSettings

ALGORITHM = "HS256"
ISSUER = AUDIENCE = "faultyard-shop"
_REQUIRED = ["exp", "iat", "sub", "iss", "aud", "role"]


class InvalidToken(Exception):
    """The bearer token is missing, malformed, expired, or not signed by the shop."""


@dataclass(frozen=True)
class Caller:
    """Who an access token speaks for."""

    user_id: int
    role: str


def issue(settings: ShopSettings, *, user_id: int, role: str) -> str:
    """Return a signed access token for the user, valid for access_token_ttl_s."""
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "role": role,
        "iat": now,
        "exp": now + settings.access_token_ttl_s,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, signing_key(settings), algorithm=ALGORITHM)


def verify(settings: ShopSettings, token: str) -> Caller:
    """Return the caller a token speaks for; InvalidToken with the reason otherwise."""
    try:
        claims = jwt.decode(
            token,
            signing_key(settings),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": _REQUIRED},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the access token has expired") from None
    except jwt.InvalidTokenError:
        raise InvalidToken("the access token is invalid") from None
    subject, role = claims["sub"], claims["role"]
    if not (isinstance(subject, str) and subject.isdigit() and isinstance(role, str)):
        raise InvalidToken("the access token is invalid")
    return Caller(user_id=int(subject), role=role)


_KEYS: dict[Path, bytes] = {}


def signing_key(settings: ShopSettings) -> bytes:
    """Return the HS256 key: the jwt_secret setting, else the state folder's jwt-secret file."""
    if settings.jwt_secret:
        return settings.jwt_secret.encode()
    path = settings.jwt_secret_file
    key = _KEYS.get(path)
    if key is None:
        key = _KEYS[path] = _read_or_create(path)
    return key


def _read_or_create(path: Path) -> bytes:
    """Read the key file; the first process to need it writes it (others read the winner's)."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48) + "\n")
    try:
        os.link(draft, path)  # fails if another process got there first: its key wins
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_bytes().strip()
