"""setting: a shop setting changed at runtime (a failure rate, a cache's lifetime...).

Set through the shop's admin API; reverted by dropping the override (back to the
environment's value), straight in the settings file when the native shop does
not answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from chaos.faults.base import IDENTIFIER_PATTERN, FaultKind, register
from target_app.public import RuntimeSettings

if TYPE_CHECKING:
    from chaos.faults.context import FaultContext


@register
class Setting(FaultKind):
    """A shop setting (target_app.config.ShopSettings) changed at runtime, e.g. a failure rate."""

    kind: Literal["setting"] = "setting"
    name: str = Field(pattern=IDENTIFIER_PATTERN)
    value: bool | int | float | str

    def describe(self) -> str:
        """Return one line saying what this step does."""
        return f"setting {self.name} = {self.value}"

    def apply(self, ctx: FaultContext) -> str:
        """Change the setting for every process of the shop (the shop checks type and range)."""
        ctx.admin.set_setting(self.name, self.value)
        return self.describe()

    def revert(self, ctx: FaultContext) -> str:
        """Drop the override: the setting is back to its default."""
        return reset_setting(ctx, self.name)

    @classmethod
    def sweep(cls, ctx: FaultContext) -> list[str]:
        """Drop every override."""
        overrides = settings_overridden(ctx)
        if not overrides:
            return []
        changed = ", ".join(f"{k}={v}" for k, v in overrides.items())
        return [f"{reset_setting(ctx)} (was {changed})"]


def settings_overridden(ctx: FaultContext) -> dict[str, Any]:
    """Return the runtime settings changed from their defaults, as the shop (else its file) says."""
    overridden, _ = ctx.through_shop(
        "read the runtime settings",
        lambda: {s["name"]: s["value"] for s in ctx.admin.settings() if s["overridden"]},
        lambda: RuntimeSettings(ctx.settings_file).overrides(),
    )
    return overridden


def reset_setting(ctx: FaultContext, name: str | None = None) -> str:
    """Drop a runtime setting (every one if None): through the shop, else in its file."""
    what = f"setting {name}" if name else "every runtime setting"
    _, by_file = ctx.through_shop(
        f"reset {what}",
        ctx.admin.reset_settings if name is None else lambda: ctx.admin.reset_setting(name),
        lambda: RuntimeSettings(ctx.settings_file).reset(name),
    )
    note = f" (shop not reachable: reset {ctx.settings_file})" if by_file else ""
    return f"{what} back to its default{note}"
