"""timeout: let no data through, and close the connection after `timeout` ms (0: never close)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from chaos.proxy.toxics.base import Chunk, ToxicContext, ToxicKind, register


@register
class Timeout(ToxicKind):
    type_name = "timeout"
    defaults = {"timeout": 0}  # noqa: RUF012

    async def transform(self, chunk: Chunk, ctx: ToxicContext) -> AsyncIterator[Chunk]:
        return  # dropped, as Toxiproxy drops it
        yield  # an async generator that yields nothing

    async def on_attach(self, ctx: ToxicContext) -> None:
        timeout_ms = self.attributes["timeout"]
        if timeout_ms > 0 and await ctx.sleep(timeout_ms / 1000):
            ctx.close()

    def on_removed(self, ctx: ToxicContext) -> None:
        # The data it dropped is gone: the stream is broken, so end it (as Toxiproxy does).
        ctx.close()
