"""The scenario format's probes: what must hold while the fault is on (symptoms) and fixed (SLO).

Probe semantics, for whoever evaluates them (chaos/scenarios/probes.py):
- PromQLProbe: an instant query whose result is one sample (aggregate it with
  `sum`, `max`, ...); no series means "no data" and never holds, so write
  `... or vector(0)` where absence means zero.
- SQLProbe: one read-only query on the shop's database, straight to PostgreSQL
  (not through the proxy, so it answers during network faults), returning one
  number in its first column of its first row.
- HTTPProbe: one request to the shop through the `shop` proxy; it holds when
  the status is `expect_status` and, if `max_latency_s` is set, it answered in time.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chaos.faults.base import IDENTIFIER_PATTERN

Comparator = Literal[">", ">=", "<", "<=", "==", "!="]
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def compare(value: float | None, comparator: Comparator, threshold: float) -> bool:
    """Return whether `value comparator threshold` holds; no value (or NaN) never holds."""
    if value is None or math.isnan(value):
        return False
    return _COMPARE[comparator](value, threshold)


def check_promql(expr: str) -> str:
    """Reject what cannot be PromQL: empty text, unclosed quotes or unbalanced brackets."""
    if not expr.strip():
        raise ValueError("empty PromQL expression")
    closing = {"(": ")", "[": "]", "{": "}"}
    stack: list[str] = []
    quote: str | None = None
    escaped = False
    for ch in expr:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch in closing:
            stack.append(closing[ch])
        elif ch in ")]}" and (not stack or stack.pop() != ch):
            raise ValueError(f"unbalanced {ch!r} in PromQL: {expr}")
    if quote:
        raise ValueError(f"unclosed {quote} in PromQL: {expr}")
    if stack:
        raise ValueError(f"missing {''.join(reversed(stack))!r} in PromQL: {expr}")
    return expr


class _Probe(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=IDENTIFIER_PATTERN)
    description: str = Field(min_length=1)
    #: Symptoms only: the fault itself causes this symptom (the link stays slow, the provider
    #: keeps failing), so it may show with the fix on. Every other symptom is the bug's own:
    #: with the fix on it must stay away.
    caused_by_fault: bool = False


class PromQLProbe(_Probe):
    """An instant PromQL query compared with a threshold."""

    kind: Literal["promql"] = "promql"
    expr: str
    comparator: Comparator
    threshold: float

    check_expr = field_validator("expr")(check_promql)

    def holds(self, value: float | None) -> bool:
        """Return whether the query's value satisfies the probe (None: no series)."""
        return compare(value, self.comparator, self.threshold)

    def describe(self) -> str:
        """Return the condition as one line."""
        return f"{self.expr} {self.comparator} {self.threshold:g}"


class SQLProbe(_Probe):
    """A read-only SQL query returning one number, compared with a threshold."""

    kind: Literal["sql"] = "sql"
    sql: str
    comparator: Comparator
    threshold: float

    @field_validator("sql")
    @classmethod
    def _read_only(cls, sql: str) -> str:
        words = sql.strip().rstrip(";").split(None, 1)
        if not words or words[0].upper() not in ("SELECT", "WITH"):
            raise ValueError("an SQL probe is one SELECT (or WITH ... SELECT) query")
        if ";" in sql.strip().rstrip(";"):
            raise ValueError("an SQL probe is one statement")
        return sql

    def holds(self, value: float | None) -> bool:
        """Return whether the query's value satisfies the probe (None: no row or NULL)."""
        return compare(value, self.comparator, self.threshold)

    def describe(self) -> str:
        """Return the condition as one line."""
        return f"{' '.join(self.sql.split())} {self.comparator} {self.threshold:g}"


class HTTPProbe(_Probe):
    """One request to the shop: the status it must answer and, optionally, how fast."""

    kind: Literal["http"] = "http"
    method: Literal["GET", "HEAD"] = "GET"  # probes never change the shop's state
    path: str = Field(pattern=r"^/")
    expect_status: int = Field(200, ge=100, le=599)
    max_latency_s: float | None = Field(None, gt=0)
    timeout_s: float = Field(10.0, gt=0)
    #: A seeded account (its email) the request is made as, logged in with the demo
    #: password first (not timed): for a shopper's own pages (carts, orders, history).
    as_account: str | None = Field(None, max_length=200)

    def holds(self, status: int | None, latency_s: float | None) -> bool:
        """Return whether an answer (None: no answer) satisfies the probe."""
        if status is None or status != self.expect_status:
            return False
        return self.max_latency_s is None or (
            latency_s is not None and latency_s <= self.max_latency_s
        )

    def describe(self) -> str:
        """Return the condition as one line."""
        within = f" within {self.max_latency_s:g}s" if self.max_latency_s else ""
        return f"{self.method} {self.path} -> {self.expect_status}{within}"


Probe = Annotated[PromQLProbe | SQLProbe | HTTPProbe, Field(discriminator="kind")]
