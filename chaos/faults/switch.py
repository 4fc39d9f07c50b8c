"""switch: one of the shop's bug switches; on runs the buggy code path, off the fixed one.

Set through the shop's admin API; turned off (every switch's default) straight in
the switch file when the native shop does not answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from chaos.faults.base import IDENTIFIER_PATTERN, FaultKind, register
from target_app.public import SwitchBoard

if TYPE_CHECKING:
    from chaos.faults.context import FaultContext


@register
class Switch(FaultKind):
    """A bug switch of the shop (target_app.switches); `value=True` runs the buggy code path."""

    kind: Literal["switch"] = "switch"
    name: str = Field(pattern=IDENTIFIER_PATTERN)
    value: bool

    def describe(self) -> str:
        """Return one line saying what this step does."""
        return f"switch {self.name} {'on (bug)' if self.value else 'off (fix)'}"

    def apply(self, ctx: FaultContext) -> str:
        """Set the switch for every process of the shop."""
        ctx.admin.set_switch(self.name, self.value)
        return self.describe()

    def revert(self, ctx: FaultContext) -> str:
        """Turn the switch off, its default."""
        return switch_off(ctx, self.name)

    @classmethod
    def sweep(cls, ctx: FaultContext) -> list[str]:
        """Turn off every switch that is on."""
        return [switch_off(ctx, name) for name in switches_on(ctx)]


def switches_on(ctx: FaultContext) -> list[str]:
    """Return the bug switches that are on, as the shop (else its switch file) says."""
    states, _ = ctx.through_shop(
        "read the switches",
        lambda: {s["name"]: s["on"] for s in ctx.admin.switches()},
        lambda: SwitchBoard(ctx.switches_file).states(),
    )
    return [name for name, on in states.items() if on]


def switch_off(ctx: FaultContext, name: str) -> str:
    """Turn a bug switch off, through the shop or, if it does not answer, in its file."""
    _, by_file = ctx.through_shop(
        f"turn {name} off",
        lambda: ctx.admin.set_switch(name, False),
        lambda: SwitchBoard(ctx.switches_file).set(name, False),
    )
    note = f" (shop not reachable: set in {ctx.switches_file})" if by_file else ""
    return f"switch {name} off{note}"


def reset_switches(ctx: FaultContext) -> str:
    """Turn every bug switch off, through the shop or, if it does not answer, in its file."""
    _, by_file = ctx.through_shop(
        "turn the switches off",
        ctx.admin.reset_switches,
        lambda: SwitchBoard(ctx.switches_file).reset(),
    )
    note = f" (shop not reachable: reset {ctx.switches_file})" if by_file else ""
    return f"every bug off{note}"
