"""The chaos state: every active fault, so each graph can show when a fault was on.

- kind="toxic": a toxic on a Toxiproxy proxy (target = proxy, name = toxic name);
- kind="proxy_down": a disabled proxy (target = proxy, name = "down");
- kind="switch": a bug switch that is on (target = "shop", name = switch name).

Toxics come from the Toxiproxy API, read in the background with a short
timeout (see chaos.exporter.polling); switches from the switch file in the
state folder, read at each scrape (a tiny local file that never blocks).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from chaos.exporter.polling import Poller
from chaos.toxiproxy import ToxiproxyClient
from target_app.public import SwitchBoard

SWITCH_TARGET = "shop"
PROXY_DOWN_NAME = "down"


class Fault(NamedTuple):
    """One active fault, as the labels of faultyard_fault_active."""

    kind: str
    target: str
    name: str


def toxiproxy_faults(client: ToxiproxyClient) -> list[Fault]:
    """Return every toxic and every disabled proxy; raise ToxiproxyError if the API fails."""
    faults = []
    for proxy in client.proxies().values():
        if not proxy.enabled:
            faults.append(Fault("proxy_down", proxy.name, PROXY_DOWN_NAME))
        faults.extend(Fault("toxic", proxy.name, toxic.name) for toxic in proxy.toxics)
    return faults


def switch_faults(board: SwitchBoard) -> list[Fault]:
    """Return every bug switch that is on (its buggy code path runs)."""
    return [Fault("switch", SWITCH_TARGET, name) for name, on in board.states().items() if on]


class FaultCollector(Collector):
    """Export faultyard_fault_active{kind,target,name} and faultyard_faults_active."""

    def __init__(self, toxics: Poller[list[Fault]], board: SwitchBoard) -> None:
        self.toxics = toxics
        self.board = board

    def faults(self) -> list[Fault]:
        """Return the active faults the exporter knows of, sorted."""
        from_proxy = self.toxics.snapshot().value or []
        return sorted(set(from_proxy) | set(switch_faults(self.board)))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield one series per active fault and their count."""
        faults = self.faults()
        active = GaugeMetricFamily(
            "faultyard_fault_active",
            "1 while a fault is on: a Toxiproxy toxic, a disabled proxy or a bug switch.",
            labels=["kind", "target", "name"],
        )
        for fault in faults:
            active.add_metric(list(fault), 1.0)
        yield active
        yield GaugeMetricFamily(
            "faultyard_faults_active",
            "Number of faults on right now (toxics and disabled proxies from the last "
            "successful read of the Toxiproxy API, and bug switches).",
            value=len(faults),
        )
