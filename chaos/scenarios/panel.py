"""What a person sees while a scenario runs: a live panel on a terminal, plain lines elsewhere.

Both views subscribe to the runner's events (phase started/ended, fault
applied/reverted, probe turned) and are told to refresh every poll. The live
panel also shows the scenario's key series, queried from Prometheus as it draws.
"""

from __future__ import annotations

import re
import time
from typing import Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from chaos.dashboards.units import format_value
from chaos.monitoring.prometheus import PrometheusClient, PrometheusError
from chaos.scenarios.journal import Journal, PhaseRecord, ProbeLog, Reading
from chaos.scenarios.model import Scenario

#: A Series unit of the scenario format as a Grafana unit (the dashboards' formatters).
GRAFANA_UNITS = {
    "s": "s",
    "1/s": "short",
    "count": "short",
    "ratio": "percentunit",
    "bytes": "bytes",
}
_BY = re.compile(r"\bby\s*\(([^)]*)\)")


def grouping_labels(expr: str) -> list[str]:
    """Return the labels of the outermost `by (...)` of an expression, [] if there is none."""
    match = _BY.search(expr)
    if not match:
        return []
    return [label.strip() for label in match.group(1).split(",") if label.strip() != "le"]


class View(Protocol):
    """What the runner tells whoever watches the run."""

    def phase_started(self, name: str) -> None: ...
    def phase_ended(self, record: PhaseRecord) -> None: ...
    def note(self, text: str) -> None: ...
    def probe_turned(self, log: ProbeLog, offset_s: float, value: float | None) -> None: ...
    def slo_changed(self, log: ProbeLog, offset_s: float, reading: Reading) -> None: ...
    def refresh(self) -> None: ...
    def close(self) -> None: ...


class LineView:
    """One line per event, for logs, CI and pipes."""

    def __init__(self, console: Console, journal: Journal) -> None:
        self.console = console
        self.journal = journal

    def _print(self, text: str) -> None:
        offset = time.time() - self.journal.started_at
        self.console.print(
            f"[{offset:5.1f}s] {text}", markup=False, highlight=False, soft_wrap=True
        )

    def phase_started(self, name: str) -> None:
        self._print(f"{name} ...")

    def phase_ended(self, record: PhaseRecord) -> None:
        took = f" in {record.duration_s:.1f}s" if record.duration_s is not None else ""
        error = f": {record.error}" if record.error else ""
        self._print(f"{record.name} {record.status}{took}{error}")

    def note(self, text: str) -> None:
        self._print(f"  {text}")

    def probe_turned(self, log: ProbeLog, offset_s: float, value: float | None) -> None:
        shown = "no data" if value is None else f"{value:.4g}"
        self._print(f"  symptom {log.name} appeared at +{offset_s:.1f}s ({shown})")

    def slo_changed(self, log: ProbeLog, offset_s: float, reading: Reading) -> None:
        shown = reading.detail or ("no data" if reading.value is None else f"{reading.value:.4g}")
        what = "holds again" if reading.holds else "broke"
        self._print(f"  SLO {log.name} {what} at +{offset_s:.1f}s ({shown})")

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


class LivePanel(LineView):
    """A rich panel redrawn every poll: the phase, the key series and every probe."""

    def __init__(self, console: Console, journal: Journal, scenario: Scenario, prometheus_url: str):
        super().__init__(console, journal)
        self.scenario = scenario
        self.prometheus = PrometheusClient(prometheus_url, timeout_s=2.0)
        self.current = "starting"
        self.injected_at: float | None = None
        self.live = Live(console=console, auto_refresh=False, transient=False)
        self.live.start()

    def phase_started(self, name: str) -> None:
        self.current = name
        if name == "observe":
            self.injected_at = time.time()
        super().phase_started(name)
        self.refresh()

    def refresh(self) -> None:
        self.live.update(self._render(), refresh=True)

    def close(self) -> None:
        self.refresh()
        self.live.stop()

    def _series_value(self, expr: str, unit: str) -> str:
        try:
            found = self.prometheus.query(expr)
        except PrometheusError as exc:
            return f"error: {str(exc)[:60]}"
        if not found:
            return "no data"
        labels = grouping_labels(expr)
        parts = []
        for s in found[:6]:
            name = " ".join(s.labels.get(label, "") for label in labels)
            parts.append(f"{name + '=' if name else ''}{format_value(s.values[0], unit)}")
        return "  ".join(parts)

    def _render(self) -> Group:
        elapsed = time.time() - self.journal.started_at
        header = Text.assemble(
            (f"{self.scenario.name}", "bold"),
            f" ({self.journal.mode} mode)   phase: ",
            (self.current, "bold cyan"),
            f"   {elapsed:.0f}s",
        )
        if self.injected_at and self.current in ("observe", "inject"):
            header.append(f"   fault on for {time.time() - self.injected_at:.0f}s", "red")
        series = Table(title="Key series", title_justify="left", expand=False)
        series.add_column("series")
        series.add_column("now", overflow="fold")
        for s in self.scenario.key_series:
            series.add_row(s.title, self._series_value(s.expr, GRAFANA_UNITS[s.unit]))
        probes = Table(title="Probes", title_justify="left")
        for column in ("probe", "role", "condition", "last value", "status"):
            probes.add_column(column, overflow="fold")
        for log in self.journal.probes.values():
            probes.add_row(log.name, log.role, _short(log.condition), *self._status(log))
        return Group(header, series, probes)

    def _status(self, log: ProbeLog) -> tuple[str, Text]:
        last = log.readings[-1] if log.readings else None
        value = "-" if last is None else (last.error or last.detail or f"{last.value:.4g}")
        held = next(
            (r for r in log.readings if r.holds and self.injected_at and r.at >= self.injected_at),
            None,
        )
        if log.role == "symptom" and held is not None and self.injected_at:
            return value, Text(f"held at +{held.at - self.injected_at:.1f}s", "bold red")
        if last is None:
            return value, Text("waiting", "dim")
        return value, Text("holds", "green") if last.holds else Text("does not hold", "yellow")


def _short(condition: str, width: int = 60) -> str:
    return condition if len(condition) <= width else condition[: width - 1] + "…"
