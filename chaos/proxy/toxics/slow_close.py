"""slow_close: delay closing the connection by `delay` ms after the source side finished."""

from __future__ import annotations

from chaos.proxy.toxics.base import ToxicContext, ToxicKind, register


@register
class SlowClose(ToxicKind):
    type_name = "slow_close"
    defaults = {"delay": 0}  # noqa: RUF012

    async def on_end_of_stream(self, ctx: ToxicContext) -> None:
        await ctx.sleep(self.attributes["delay"] / 1000)
