"""limit_data: close the connection once `bytes` bytes went through in this direction."""

from __future__ import annotations

from chaos.proxy.toxics.base import Chunk, ToxicContext, ToxicKind, register


@register
class LimitData(ToxicKind):
    type_name = "limit_data"
    defaults = {"bytes": 0}  # noqa: RUF012

    async def transform(self, chunk: Chunk, ctx: ToxicContext) -> list[Chunk]:
        limit = self.attributes["bytes"]
        sent = ctx.state.get("sent", 0)
        allowed = max(0, limit - sent)
        ctx.state["sent"] = sent + min(allowed, len(chunk.data))
        if len(chunk.data) < allowed:
            return [chunk]
        ctx.close()
        return [Chunk(chunk.data[:allowed], chunk.arrived)] if allowed else []
