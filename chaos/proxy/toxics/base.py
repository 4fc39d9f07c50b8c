"""What every toxic kind shares: its attributes, and the per-connection context it acts through."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Chunk:
    """Bytes read from one side, stamped with the loop time they arrived at."""

    data: bytes
    arrived: float


class ToxicContext(ABC):
    """What a toxic may do to the one connection direction it acts on."""

    #: Per-connection, per-toxic scratch state (byte counters and the like).
    state: dict[str, Any]

    @abstractmethod
    def now(self) -> float:
        """Return the loop's clock."""

    @abstractmethod
    async def sleep(self, seconds: float) -> bool:
        """Sleep; return early (False) if the toxic is removed meanwhile, so no data waits on it."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection, both sides, after what was already forwarded."""

    @abstractmethod
    def reset(self) -> None:
        """Reset the connection (TCP RST to both sides)."""


Attributes = dict[str, int]


class ToxicKind(ABC):
    """One kind of toxic, with its attributes validated and defaulted."""

    type_name: ClassVar[str]
    #: Attribute names and their defaults; every attribute is a non-negative integer.
    defaults: ClassVar[Attributes]

    def __init__(self, attributes: Attributes) -> None:
        self.attributes = {**self.defaults, **attributes}

    async def transform(self, chunk: Chunk, ctx: ToxicContext) -> AsyncIterator[Chunk]:
        """Yield what to forward for one chunk, piece by piece (yielding nothing drops it).

        Each piece travels on through the later toxics and is written before the
        next one is asked for, so sleeping between pieces paces them on the wire.
        """
        yield chunk

    async def on_attach(self, ctx: ToxicContext) -> None:  # noqa: B027
        """Act on a connection without data (timers); runs as a task while the toxic is active."""

    async def on_end_of_stream(self, ctx: ToxicContext) -> None:  # noqa: B027
        """Act when the source side finished sending, before the other side is told."""

    def on_removed(self, ctx: ToxicContext) -> None:  # noqa: B027
        """Act when the toxic is removed from a connection it applied to."""


#: Toxic kinds by type name, filled by @register as each toxic module is imported.
REGISTRY: dict[str, type[ToxicKind]] = {}


def register(kind: type[ToxicKind]) -> type[ToxicKind]:
    """Make a toxic kind available by its type name."""
    REGISTRY[kind.type_name] = kind
    return kind
