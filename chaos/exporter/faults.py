"""The chaos state: every active fault, so each graph can show when a fault was on.

- kind="toxic": a toxic on a Toxiproxy proxy (target = proxy, name = toxic name);
- kind="proxy_down": a disabled proxy (target = proxy, name = "down");
- kind="switch": a bug switch that is on (target = "shop", name = switch name);
- kind="index": an index a schema fault dropped (target = "postgres", name = index name);
- kind="process": a paused, killed or terminated process (target = the service as named
  in the fault, such as "redis" or "app:worker"; name = kill, pause or term).

Toxics come from the Toxiproxy API, read in the background with a short
timeout (see chaos.exporter.polling); switches, dropped indexes and process
faults from their files in the state folder, read at each scrape (tiny local
files that never block).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from chaos.exporter.polling import Poller
from chaos.faults.index import dropped_indexes
from chaos.faults.process_log import faults_on as process_faults_on
from chaos.toxiproxy import ToxiproxyClient
from target_app.public import SwitchBoard

SWITCH_TARGET = "shop"
INDEX_TARGET = "postgres"
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


def index_faults(state_dir: Path) -> list[Fault]:
    """Return every index a schema fault dropped and nobody rebuilt yet."""
    return [Fault("index", INDEX_TARGET, name) for name in dropped_indexes(state_dir)]


def process_faults(state_dir: Path) -> list[Fault]:
    """Return every process fault still on (a paused service, one killed and not started)."""
    return [Fault("process", e.target, e.action) for e in process_faults_on(state_dir)]


class FaultCollector(Collector):
    """Export faultyard_fault_active{kind,target,name} and faultyard_faults_active."""

    def __init__(
        self,
        toxics: Poller[list[Fault]],
        board: SwitchBoard,
        state_dir: Path,
        hidden_when: Path | None = None,
    ) -> None:
        self.toxics = toxics
        self.board = board
        self.state_dir = state_dir
        #: While this file exists (a drill runs), the faults are not exported.
        self.hidden_when = hidden_when

    def faults(self) -> list[Fault]:
        """Return the active faults the exporter knows of, sorted."""
        from_proxy = self.toxics.snapshot().value or []
        local = (
            switch_faults(self.board)
            + index_faults(self.state_dir)
            + process_faults(self.state_dir)
        )
        return sorted(set(from_proxy) | set(local))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield one series per active fault and their count (nothing but that they are hidden
        while a drill runs: on call, no graph says which fault is on)."""
        hidden = self.hidden_when is not None and self.hidden_when.exists()
        yield GaugeMetricFamily(
            "faultyard_faults_hidden",
            "1 while a drill runs: the faults are not exported until it ends.",
            value=1.0 if hidden else 0.0,
        )
        if hidden:
            return
        faults = self.faults()
        active = GaugeMetricFamily(
            "faultyard_fault_active",
            "1 while a fault is on: a Toxiproxy toxic, a disabled proxy, a bug switch, a "
            "dropped index or a paused, killed or terminated process.",
            labels=["kind", "target", "name"],
        )
        for fault in faults:
            active.add_metric(list(fault), 1.0)
        yield active
        yield GaugeMetricFamily(
            "faultyard_faults_active",
            "Number of faults on right now (toxics and disabled proxies from the last "
            "successful read of the Toxiproxy API, bug switches and dropped indexes).",
            value=len(faults),
        )
