"""reset_peer: on the first data, wait `timeout` ms, then reset the connection (TCP RST)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from chaos.proxy.toxics.base import Chunk, ToxicContext, ToxicKind, register


@register
class ResetPeer(ToxicKind):
    type_name = "reset_peer"
    defaults = {"timeout": 0}  # noqa: RUF012

    async def transform(self, chunk: Chunk, ctx: ToxicContext) -> AsyncIterator[Chunk]:
        if await ctx.sleep(self.attributes["timeout"] / 1000):
            ctx.reset()
            return
        yield chunk  # removed while waiting: the data goes on
