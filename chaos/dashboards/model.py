"""The Grafana dashboards in dashboards/grafana, read into plain records the renderer draws."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.errors import FaultyardError

GRAFANA_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "grafana"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
PROVISIONING_DIR = GRAFANA_DIR / "provisioning"
# Every panel names the Prometheus datasource by this uid; provisioning gives it.
DATASOURCE_UID = "prometheus"
GRID_COLUMNS = 24


class DashboardError(FaultyardError):
    """A dashboard does not exist or its JSON is not a dashboard Faultyard can draw."""


@dataclass(frozen=True)
class GridPos:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Target:
    ref_id: str
    expr: str
    legend_format: str
    datasource_uid: str | None


@dataclass(frozen=True)
class Panel:
    id: int
    type: str
    title: str
    description: str
    grid: GridPos
    unit: str
    # fieldConfig.defaults.min: the y axis starts there (0 for rates and counts).
    min_value: float | None
    targets: tuple[Target, ...]
    # Stat panels: (threshold value, colour name), ascending; the base colour has value None.
    thresholds: tuple[tuple[float | None, str], ...]
    datasource_uid: str | None

    @property
    def is_row(self) -> bool:
        return self.type == "row"


@dataclass(frozen=True)
class AnnotationQuery:
    name: str
    expr: str
    title_format: str
    datasource_uid: str | None


@dataclass(frozen=True)
class Dashboard:
    name: str
    uid: str
    title: str
    panels: tuple[Panel, ...]
    annotations: tuple[AnnotationQuery, ...]
    path: Path

    @property
    def grid_height(self) -> int:
        """Return the dashboard's height in grid units."""
        return max((p.grid.y + p.grid.h for p in self.panels), default=0)

    def queries(self) -> list[tuple[Panel, Target]]:
        """Return every (panel, target) pair with a PromQL expression, in panel order."""
        return [(p, t) for p in self.panels if not p.is_row for t in p.targets]


def dashboard_names() -> list[str]:
    """Return the names of the shipped dashboards (their file names without .json)."""
    return sorted(p.stem for p in DASHBOARDS_DIR.glob("*.json"))


def load_dashboard(name_or_path: str | Path) -> Dashboard:
    """Load a shipped dashboard by name (e.g. "overview") or any dashboard JSON file by path."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = DASHBOARDS_DIR / f"{name_or_path}.json"
    if not path.is_file():
        known = ", ".join(dashboard_names()) or "none"
        raise DashboardError(f"no dashboard {str(name_or_path)!r} (known: {known})")
    try:
        data = json.loads(path.read_text())
        return _dashboard(data, path)
    except (ValueError, KeyError, TypeError) as exc:
        raise DashboardError(f"{path} is not a dashboard Faultyard can read: {exc!r}") from None


def _uid(datasource: Any) -> str | None:
    # Grafana accepts {"type", "uid"} objects and, in old dashboards, a bare name.
    if isinstance(datasource, dict):
        return datasource.get("uid")
    return datasource


def _panel(data: dict[str, Any]) -> Panel:
    defaults = data.get("fieldConfig", {}).get("defaults", {})
    steps = defaults.get("thresholds", {}).get("steps", [])
    pos = data["gridPos"]
    return Panel(
        id=int(data["id"]),
        type=data["type"],
        title=data.get("title", ""),
        description=data.get("description", ""),
        grid=GridPos(x=pos["x"], y=pos["y"], w=pos["w"], h=pos["h"]),
        unit=defaults.get("unit", "short"),
        min_value=defaults.get("min"),
        targets=tuple(
            Target(
                ref_id=t.get("refId", ""),
                expr=t["expr"],
                legend_format=t.get("legendFormat", ""),
                datasource_uid=_uid(t.get("datasource")),
            )
            for t in data.get("targets", [])
            if not t.get("hide")
        ),
        thresholds=tuple((s.get("value"), s["color"]) for s in steps),
        datasource_uid=_uid(data.get("datasource")),
    )


def _dashboard(data: dict[str, Any], path: Path) -> Dashboard:
    panels: list[Panel] = []
    for raw in data["panels"]:
        panels.append(_panel(raw))
        # A collapsed row keeps its panels inside it.
        panels.extend(_panel(p) for p in raw.get("panels", []))
    annotations = tuple(
        AnnotationQuery(
            name=a.get("name", ""),
            expr=a["expr"],
            title_format=a.get("titleFormat", ""),
            datasource_uid=_uid(a.get("datasource")),
        )
        for a in data.get("annotations", {}).get("list", [])
        if a.get("expr") and a.get("enable", True)
    )
    return Dashboard(
        name=path.stem,
        uid=data["uid"],
        title=data["title"],
        panels=tuple(sorted(panels, key=lambda p: (p.grid.y, p.grid.x))),
        annotations=annotations,
        path=path,
    )


def series_dashboard(
    name: str,
    title: str,
    series: list[tuple[str, str, str]],
    *,
    legend_formats: list[str] | None = None,
) -> Dashboard:
    """Build a dashboard in memory from (title, PromQL, Grafana unit) triples, one panel each.

    For plotting expressions that no shipped dashboard holds, such as a
    scenario's key series: panels are half the page wide, two to a row, and
    their y axis starts at 0.
    """
    formats = legend_formats or [""] * len(series)
    panels = tuple(
        Panel(
            id=n,
            type="timeseries",
            title=panel_title,
            description="",
            grid=GridPos(x=12 * ((n - 1) % 2), y=8 * ((n - 1) // 2), w=12, h=8),
            unit=unit,
            min_value=0,
            targets=(Target("A", expr, legend_format, DATASOURCE_UID),),
            thresholds=(),
            datasource_uid=DATASOURCE_UID,
        )
        for n, ((panel_title, expr, unit), legend_format) in enumerate(
            zip(series, formats, strict=True), start=1
        )
    )
    return Dashboard(
        name=name, uid=name, title=title, panels=panels, annotations=(), path=Path(name)
    )
