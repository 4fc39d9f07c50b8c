"""Passwords hashed with Argon2id (argon2-cffi); never stored, logged or compared in clear."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: Long enough to resist guessing, short enough that hashing it costs what it should.
MIN_LENGTH, MAX_LENGTH = 10, 128


@lru_cache(maxsize=8)
def hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    """Return an Argon2id hasher of this cost (one lane: the shop's workers are single-core)."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def hash_password(password: str, *, time_cost: int, memory_kib: int) -> str:
    """Return the encoded Argon2id hash of a password (salt and cost included)."""
    return hasher(time_cost, memory_kib).hash(password)


def verify_password(password: str, encoded: str | None, *, time_cost: int, memory_kib: int) -> bool:
    """Return whether `password` matches `encoded`, in about one hash's time either way.

    An account without a hash (or an unknown email, passed as None) is checked
    against a hash of the same cost, so the answer's delay tells nothing.
    """
    ph = hasher(time_cost, memory_kib)
    try:
        return ph.verify(encoded or _decoy(time_cost, memory_kib), password) and bool(encoded)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=8)
def _decoy(time_cost: int, memory_kib: int) -> str:
    return hasher(time_cost, memory_kib).hash("no account has this password: a decoy")
