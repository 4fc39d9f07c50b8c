"""toxic: a Toxiproxy toxic on one proxy, added through the API and removed by its name.

The one model of a toxic in the tool: a scenario's step, what the Toxiproxy
client sends, and what it reads back. Its type and attributes are checked here,
against the proxy's own toxic kinds (chaos.proxy.toxics.REGISTRY).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from chaos.faults.base import FaultKind, register
from chaos.proxy.toxics import REGISTRY as TOXIC_KINDS
from chaos.proxy.toxics import ToxicKind

if TYPE_CHECKING:
    from chaos.faults.context import FaultContext


def toxic_kind(type_name: str) -> type[ToxicKind]:
    """Return the proxy's toxic kind of that type; ValueError naming the known types."""
    kind = TOXIC_KINDS.get(type_name)
    if kind is None:
        raise ValueError(f"unknown toxic type {type_name!r}; known: {', '.join(TOXIC_KINDS)}")
    return kind


def unknown_attributes(type_name: str, names: Iterable[str]) -> list[str]:
    """Return, sorted, the attributes a toxic of that type does not have."""
    return sorted(set(names) - set(toxic_kind(type_name).defaults))


@register
class Toxic(FaultKind):
    """A Toxiproxy toxic on one proxy (attributes in the toxic's own units).

    `duration_ms` (remove it by itself after that long) and `toxicity_per`
    (roll the toxicity per request, not per connection) are Faultyard's
    extensions, which only the embedded server honours.
    """

    kind: Literal["toxic"] = "toxic"
    proxy: str = Field(min_length=1)
    type: str
    attributes: dict[str, int] = Field(default_factory=dict)
    stream: Literal["upstream", "downstream"] = "downstream"
    toxicity: float = Field(1.0, ge=0.0, le=1.0)
    name: str | None = None
    duration_ms: int | None = Field(None, ge=0)
    toxicity_per: Literal["connection", "request"] | None = None

    @model_validator(mode="after")
    def _known_type_and_attributes(self) -> Toxic:
        unknown = unknown_attributes(self.type, self.attributes)
        if unknown:
            raise ValueError(
                f"{self.type} toxic has no attribute {', '.join(unknown)}; "
                f"it has: {', '.join(toxic_kind(self.type).defaults)}"
            )
        if any(v < 0 for v in self.attributes.values()):
            raise ValueError("toxic attributes are non-negative integers")
        return self

    @property
    def toxic_name(self) -> str:
        """Return the toxic's name on the proxy (Toxiproxy's default: TYPE_STREAM)."""
        return self.name or f"{self.type}_{self.stream}"

    def describe(self) -> str:
        """Return one line saying what this fault does."""
        attrs = " ".join(f"{k}={v}" for k, v in self.attributes.items())
        share = f" toxicity={self.toxicity:g}" if self.toxicity < 1 else ""
        per = " per request" if self.toxicity_per == "request" else ""
        lasting = f" for {self.duration_ms}ms" if self.duration_ms else ""
        line = f"toxic {self.type} on proxy {self.proxy} ({self.stream}) {attrs}{share}"
        return f"{line.rstrip()}{per}{lasting}"

    def apply(self, ctx: FaultContext) -> str:
        """Add the toxic to its proxy."""
        added = ctx.toxiproxy.add(self)
        return f"added {self.describe()} as {added.toxic_name}"

    def revert(self, ctx: FaultContext) -> str:
        """Remove the toxic from its proxy, if it is still there."""
        if ctx.toxiproxy.remove_toxic(self.proxy, self.toxic_name, missing_ok=True):
            return f"removed toxic {self.toxic_name} on {self.proxy}"
        return f"toxic {self.toxic_name} on {self.proxy} was already gone"

    @classmethod
    def sweep(cls, ctx: FaultContext) -> list[str]:
        """Remove every toxic of every proxy."""
        return [t.revert(ctx) for p in ctx.toxiproxy.proxies().values() for t in p.toxics]
