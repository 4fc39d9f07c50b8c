"""The gevent hub's probes, shared by the scenarios whose bug holds the event loop."""

from __future__ import annotations

from chaos.scenarios.model import PromQLProbe
from scenarios._common import rate

HUB_LIMIT = 0.1
SHOP_WORKERS = 'process=~"app-.*"'
#: Seconds per second the shop workers' hubs spent in blocks of more than 100 ms.
HUB_BLOCKED = rate(f"shop_gevent_hub_blocked_seconds_total{{{SHOP_WORKERS}}}")
#: Blocks of the shop workers' hubs per second (each one over 100 ms).
HUB_BLOCKS = rate(f"shop_gevent_hub_blocks_total{{{SHOP_WORKERS}}}")
HUB_BLOCKED_BY_PROCESS = (
    f"sum by (process) (rate(shop_gevent_hub_blocked_seconds_total{{{SHOP_WORKERS}}}[10s]))"
)
HUB_BLOCKED_SYMPTOM = PromQLProbe(
    name="hub_blocked",
    expr=f"{HUB_BLOCKED} or vector(0)",
    comparator=">",
    threshold=HUB_LIMIT,
    description="the shop workers' gevent hubs are blocked (blocks over 100 ms) more "
    "than 10 % of the time",
)
HUB_FREE = PromQLProbe(
    name="hub_free",
    expr=f"{HUB_BLOCKED} or vector(0)",
    comparator="<=",
    threshold=HUB_LIMIT,
    description="the hubs are blocked 10 % of the time or less",
)
