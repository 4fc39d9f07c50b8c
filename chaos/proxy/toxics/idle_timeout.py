"""idle_timeout (Faultyard's own): close a connection that carried no data for `timeout` ms.

What a firewall, a NAT gateway or a load balancer does to a flow it has not
seen a packet of for a while: it forgets it, and the two ends learn only when
they next use the connection. Pooled database connections are the classic
victims. Idle is judged on this toxic's stream (downstream: nothing came back
for `timeout` ms); a connection already open when the toxic is added counts
as active at that moment. Real Toxiproxy has no such toxic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from chaos.proxy.toxics.base import Chunk, ToxicContext, ToxicKind, register

LAST_DATA = "last_data"


@register
class IdleTimeout(ToxicKind):
    type_name = "idle_timeout"
    defaults = {"timeout": 30_000}  # noqa: RUF012

    async def transform(self, chunk: Chunk, ctx: ToxicContext) -> AsyncIterator[Chunk]:
        ctx.state[LAST_DATA] = ctx.now()
        yield chunk

    async def on_attach(self, ctx: ToxicContext) -> None:
        timeout_s = self.attributes["timeout"] / 1000
        ctx.state.setdefault(LAST_DATA, ctx.now())
        while (idle_for := ctx.now() - ctx.state[LAST_DATA]) < timeout_s:
            if not await ctx.sleep(timeout_s - idle_for):
                return  # removed: the connection lives on
        ctx.close()
