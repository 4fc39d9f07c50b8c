"""limit_data: close the connection once `bytes` bytes went through in this direction."""

from __future__ import annotations

from collections.abc import AsyncIterator

from chaos.proxy.toxics.base import Chunk, ToxicContext, ToxicKind, register


@register
class LimitData(ToxicKind):
    type_name = "limit_data"
    defaults = {"bytes": 0}  # noqa: RUF012

    async def transform(self, chunk: Chunk, ctx: ToxicContext) -> AsyncIterator[Chunk]:
        allowed = max(0, self.attributes["bytes"] - ctx.state.get("sent", 0))
        piece = chunk.data[:allowed]
        ctx.state["sent"] = ctx.state.get("sent", 0) + len(piece)
        if piece:
            yield Chunk(piece, chunk.arrived)
        if len(chunk.data) >= allowed:
            ctx.close()
