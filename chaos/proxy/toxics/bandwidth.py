"""bandwidth: cap throughput at `rate` KB/s."""

from __future__ import annotations

from collections.abc import AsyncIterator

from chaos.proxy.toxics.base import Chunk, ToxicContext, ToxicKind, register

SLICE_S = 0.1  # large chunks go out in slices of 100 ms worth of bytes


@register
class Bandwidth(ToxicKind):
    type_name = "bandwidth"
    defaults = {"rate": 0}  # noqa: RUF012

    async def transform(self, chunk: Chunk, ctx: ToxicContext) -> AsyncIterator[Chunk]:
        rate_bps = self.attributes["rate"] * 1000
        if rate_bps <= 0:
            yield chunk
            return
        step = max(1, int(rate_bps * SLICE_S))
        for start in range(0, len(chunk.data), step):
            piece = chunk.data[start : start + step]
            if not await ctx.sleep(len(piece) / rate_bps):
                yield Chunk(chunk.data[start:], chunk.arrived)  # removed: pass the rest at once
                return
            yield Chunk(piece, chunk.arrived)
