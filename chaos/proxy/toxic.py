"""A toxic as the API shows it, with the live kind that acts on connections."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from chaos.proxy.toxics import REGISTRY, ToxicKind

Stream = Literal["upstream", "downstream"]
STREAMS: tuple[Stream, ...] = ("upstream", "downstream")
ToxicityPer = Literal["connection", "request"]


class ToxicSpecError(ValueError):
    """A toxic definition the API refuses (answered as 400)."""


@dataclass(eq=False)
class Toxic:
    """One toxic on one proxy. Replaced, never mutated, when updated."""

    name: str
    type: str
    stream: Stream
    toxicity: float
    kind: ToxicKind
    # Extensions (clients that do not know them can ignore them):
    duration_ms: int | None = None
    toxicity_per: ToxicityPer = "connection"
    removed: bool = False
    #: Sleeps in progress inside this toxic; removal ends them so no data waits on a removed toxic.
    waiters: set[asyncio.Future[bool]] = field(default_factory=set)

    def remove(self) -> None:
        """Mark the toxic removed and release every chunk it is holding."""
        self.removed = True
        for waiter in list(self.waiters):
            if not waiter.done():
                waiter.set_result(False)

    @property
    def attributes(self) -> dict[str, int]:
        return self.kind.attributes

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
            "duration_ms": self.duration_ms,
            "toxicity_per": self.toxicity_per,
        }


def _non_negative_int(name: str, value: Any) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value != int(value)
    ):
        raise ToxicSpecError(f"bad request body: attribute {name} must be an integer")
    if value < 0:
        raise ToxicSpecError(f"bad request body: attribute {name} must not be negative")
    return int(value)


class InvalidStream(ToxicSpecError):
    """Toxiproxy's exact answer for a bad stream."""

    def __init__(self) -> None:
        super().__init__("stream was invalid, can be either upstream or downstream")


class InvalidType(ToxicSpecError):
    """Toxiproxy's exact answer for an unknown toxic type."""

    def __init__(self) -> None:
        super().__init__("invalid toxic type")


def build_toxic(body: dict[str, Any], *, base: Toxic | None = None) -> Toxic:
    """Validate a new toxic, or an update of `base` (only attributes and toxicity change)."""
    if not isinstance(body, dict):
        raise ToxicSpecError("bad request body: expected a JSON object")
    if base is not None:
        type_name, stream, name = base.type, base.stream, base.name
    else:
        stream = body.get("stream") or "downstream"
        if not isinstance(stream, str) or stream.lower() not in STREAMS:
            raise InvalidStream()
        stream = stream.lower()
        type_name = body.get("type")
        name = body.get("name") or f"{type_name}_{stream}"
        if not isinstance(name, str):
            raise ToxicSpecError("bad request body: toxic name must be a string")
    kind_class = REGISTRY.get(type_name) if isinstance(type_name, str) else None
    if kind_class is None:
        raise InvalidType()
    toxicity = body.get("toxicity", base.toxicity if base else 1.0)
    if (
        isinstance(toxicity, bool)
        or not isinstance(toxicity, int | float)
        or not 0 <= toxicity <= 1
    ):
        raise ToxicSpecError("bad request body: toxicity must be a number between 0 and 1")
    raw_attributes = body.get("attributes") or {}
    if not isinstance(raw_attributes, dict):
        raise ToxicSpecError("bad request body: attributes must be a JSON object")
    attributes = dict(base.attributes) if base else {}
    attributes.update(
        {k: _non_negative_int(k, v) for k, v in raw_attributes.items() if k in kind_class.defaults}
    )
    duration = body.get("duration_ms", base.duration_ms if base else None)
    if duration is not None:
        duration = _non_negative_int("duration_ms", duration) or None
    per = body.get("toxicity_per", base.toxicity_per if base else "connection")
    if per not in ("connection", "request"):
        raise ToxicSpecError("bad request body: toxicity_per must be connection or request")
    return Toxic(
        name=name,
        type=type_name,  # type: ignore[arg-type]
        stream=stream,
        toxicity=float(toxicity),
        kind=kind_class(attributes),
        duration_ms=duration,
        toxicity_per=per,
    )
