"""latency: delay every chunk by `latency` ms ± up to `jitter` ms, counted from when it arrived."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

from chaos.proxy.toxics.base import Chunk, ToxicContext, ToxicKind, register


@register
class Latency(ToxicKind):
    type_name = "latency"
    defaults = {"latency": 0, "jitter": 0}  # noqa: RUF012

    async def transform(self, chunk: Chunk, ctx: ToxicContext) -> AsyncIterator[Chunk]:
        jitter = self.attributes["jitter"]
        delay_ms = self.attributes["latency"] + (random.randint(-jitter, jitter) if jitter else 0)
        # Measured from arrival, as Toxiproxy does: chunks queued behind a
        # delayed one are not delayed twice.
        due = chunk.arrived + max(0, delay_ms) / 1000
        if due > ctx.now():
            await ctx.sleep(due - ctx.now())
        # Passed on as arriving when it was due, so a second latency toxic adds to this one.
        yield Chunk(chunk.data, due)
