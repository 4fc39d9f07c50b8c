"""slicer: cut data into pieces of `average_size` ± `size_variation` bytes, `delay` µs apart."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

from chaos.proxy.toxics.base import Chunk, ToxicContext, ToxicKind, register


@register
class Slicer(ToxicKind):
    type_name = "slicer"
    defaults = {"average_size": 0, "size_variation": 0, "delay": 0}  # noqa: RUF012

    def slice_sizes(self, total: int) -> list[int]:
        """Return piece sizes that add up to `total`."""
        average, variation = self.attributes["average_size"], self.attributes["size_variation"]
        if average <= 0:
            return [total]
        sizes, left = [], total
        while left > 0:
            size = max(1, average + (random.randint(-variation, variation) if variation else 0))
            sizes.append(min(size, left))
            left -= sizes[-1]
        return sizes

    async def transform(self, chunk: Chunk, ctx: ToxicContext) -> AsyncIterator[Chunk]:
        delay_s = self.attributes["delay"] / 1_000_000
        start = 0
        for n, size in enumerate(self.slice_sizes(len(chunk.data))):
            if n and delay_s and not await ctx.sleep(delay_s):
                yield Chunk(chunk.data[start:], chunk.arrived)  # removed: pass the rest at once
                return
            yield Chunk(chunk.data[start : start + size], chunk.arrived)
            start += size
