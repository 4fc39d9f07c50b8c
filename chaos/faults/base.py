"""What every fault kind shares: its kind, a description, apply, an idempotent revert, a sweep."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from chaos.faults.context import FaultContext

#: Switch and setting names (and probe names): snake_case.
IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]*$"
#: The proxies of the stack's data path (StackSettings.proxy_definitions).
STACK_PROXIES = ("postgres", "redis", "shop")


class FaultKind(BaseModel):
    """One kind of fault: its parameters (frozen), what it does in words, how to apply and undo it.

    Reverting is idempotent: undoing a fault that is not on (never applied,
    reverted already, removed by someone else) succeeds and says so, because a
    rollback, the next run's preflight and `faultyard reset` may each undo the
    same fault, and none of them may fail for finding it gone.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The kind's name in scenarios, journals and REGISTRY (each kind narrows it to a Literal).
    kind: str

    @abstractmethod
    def describe(self) -> str:
        """Return one line saying what this fault does."""

    @abstractmethod
    def apply(self, ctx: FaultContext) -> str:
        """Apply the fault to the stack; return what was done, in words."""

    @abstractmethod
    def revert(self, ctx: FaultContext) -> str:
        """Undo the fault (idempotent: a fault already gone is fine); return what was done."""

    @classmethod
    def sweep(cls, ctx: FaultContext) -> list[str]:
        """Undo every fault of this kind still on the stack, whoever left it; say what was undone."""
        return []

    @contextmanager
    def applied(self, ctx: FaultContext) -> Iterator[str]:
        """Apply the fault for the block and revert it however the block ends."""
        done = self.apply(ctx)
        try:
            yield done
        finally:
            self.revert(ctx)


Kind = TypeVar("Kind", bound=type[FaultKind])

#: Fault kinds by kind name, filled by @register as each kind's module is imported.
REGISTRY: dict[str, type[FaultKind]] = {}


def register(kind: Kind) -> Kind:
    """Make a fault kind available by its kind name."""
    REGISTRY[kind.model_fields["kind"].default] = kind
    return kind
