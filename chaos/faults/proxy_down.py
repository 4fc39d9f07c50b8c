"""proxy_down: a proxy disabled, its connections closed and new ones refused, as a cut link."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from chaos.errors import ToxiproxyNotFoundError
from chaos.faults.base import FaultKind, register

if TYPE_CHECKING:
    from chaos.faults.context import FaultContext


@register
class ProxyDown(FaultKind):
    """One of the stack's proxies taken down (Toxiproxy's `enabled: false`), then up again."""

    kind: Literal["proxy_down"] = "proxy_down"
    proxy: str = Field(min_length=1)

    def describe(self) -> str:
        """Return one line saying what this fault does."""
        return f"proxy {self.proxy} down"

    def apply(self, ctx: FaultContext) -> str:
        """Disable the proxy: Toxiproxy closes its connections and refuses new ones."""
        ctx.toxiproxy.set_enabled(self.proxy, False)
        return f"took proxy {self.proxy} down: its connections closed, new ones refused"

    def revert(self, ctx: FaultContext) -> str:
        """Enable the proxy again (enabling an enabled proxy changes nothing)."""
        try:
            ctx.toxiproxy.set_enabled(self.proxy, True)
        except ToxiproxyNotFoundError:
            return f"proxy {self.proxy} does not exist: nothing to bring up"
        return f"proxy {self.proxy} up again"

    @classmethod
    def sweep(cls, ctx: FaultContext) -> list[str]:
        """Enable every disabled proxy."""
        return [
            f"proxy {p.name} disabled: {cls(proxy=p.name).revert(ctx)}"
            for p in ctx.toxiproxy.proxies().values()
            if not p.enabled
        ]
