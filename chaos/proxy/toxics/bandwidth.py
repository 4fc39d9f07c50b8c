"""bandwidth: cap throughput at `rate` KB/s."""

from __future__ import annotations

from chaos.proxy.toxics.base import Chunk, ToxicContext, ToxicKind, register

SLICE_S = 0.1  # large chunks go out in slices of 100 ms worth of bytes


@register
class Bandwidth(ToxicKind):
    type_name = "bandwidth"
    defaults = {"rate": 0}  # noqa: RUF012

    async def transform(self, chunk: Chunk, ctx: ToxicContext) -> list[Chunk]:
        rate_bps = self.attributes["rate"] * 1000
        if rate_bps <= 0:
            return [chunk]
        out = []
        step = max(1, int(rate_bps * SLICE_S))
        for start in range(0, len(chunk.data), step):
            piece = chunk.data[start : start + step]
            if not await ctx.sleep(len(piece) / rate_bps):
                out.append(Chunk(chunk.data[start:], chunk.arrived))  # removed: pass the rest
                return out
            out.append(Chunk(piece, chunk.arrived))
        return out
