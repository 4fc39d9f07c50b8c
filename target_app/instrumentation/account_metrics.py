"""Metrics of accounts: logins, token refreshes, password hashing, rate limits."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

LOGINS = Counter(
    "shop_logins_total", "Login attempts, by outcome (ok, failed, limited).", ["outcome"]
)
REFRESHES = Counter(
    "shop_token_refreshes_total",
    "Refresh-token exchanges, by outcome (ok, refused, reused: the family was revoked).",
    ["outcome"],
)
PASSWORD_HASH_SECONDS = Histogram(
    "shop_password_hash_seconds",
    "Time to hash or verify one password (Argon2id), as the request waited for it.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
RATE_LIMITED = Counter("shop_rate_limited_total", "Requests answered 429, by limit.", ["limit"])
RATE_LIMIT_CHECKS = Counter(
    "shop_rate_limit_checks_total",
    "Rate-limit storage calls, by where they were counted (redis; memory: Redis unreachable).",
    ["storage"],
)
# Every labelled series exists at 0 from the start: increase() over a series born at its
# first increment reads 0.
for _outcome in ("ok", "failed", "limited"):
    LOGINS.labels(_outcome)
for _outcome in ("ok", "refused", "reused"):
    REFRESHES.labels(_outcome)
for _limit in ("login-account", "login-address", "checkout-user"):
    RATE_LIMITED.labels(_limit)
for _storage in ("redis", "memory"):
    RATE_LIMIT_CHECKS.labels(_storage)
