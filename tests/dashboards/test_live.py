"""Every panel of every dashboard against the stack's running Prometheus, after traffic and a fault."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image
from prometheus_client import REGISTRY

import target_app.instrumentation.metrics  # noqa: F401  (registers the shop's metrics in REGISTRY)
from chaos.dashboards import FaultWindow, dashboard_names, load_dashboard, render_dashboard
from chaos.dashboards.faults import fault_windows
from chaos.dashboards.promql import expand_variables, metric_names
from chaos.monitoring.prometheus import PrometheusClient, QueryError
from chaos.stack.manager import Stack
from tests.conftest import eventually, faultyard
from tests.dashboards.conftest import TOXIC, Observed

pytestmark = pytest.mark.slow

STEP_S = 1.0
# Series that exist only once their cause happened, which this test does not cause:
# the relay fails only when Redis or PostgreSQL is unreachable. Their panels use
# `or vector(0)`; the shop must still define them (checked below).
ONLY_AFTER_A_FAILURE = {"shop_outbox_relay_errors_total"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def prometheus(stack: Stack) -> PrometheusClient:
    return PrometheusClient(stack.settings.prometheus_url)


def _all_queries() -> list[tuple[str, str, str]]:
    """Return (dashboard, panel title, expr) for every panel target and annotation."""
    found = []
    for name in dashboard_names():
        board = load_dashboard(name)
        found += [(name, panel.title, target.expr) for panel, target in board.queries()]
        found += [(name, f"annotation {a.name}", a.expr) for a in board.annotations]
    return found


def test_traffic_reached_the_shop(observed: Observed) -> None:
    assert {200, 201, 404, 422} <= observed.statuses
    assert observed.toxic_on and observed.toxic_off


def test_every_panel_query_parses_and_returns_series(
    observed: Observed, prometheus: PrometheusClient
) -> None:
    queries = _all_queries()
    for board, title, expr in queries:
        try:
            prometheus.query(expand_variables(expr, step_s=STEP_S, range_s=60))
        except QueryError as exc:
            pytest.fail(f"{board} / {title}: {exc}")

    def empty() -> list[str]:
        missing = []
        for board, title, expr in queries:
            end = time.time()
            range_s = end - observed.start
            series = prometheus.query_range(
                expand_variables(expr, step_s=STEP_S, range_s=range_s),
                start=observed.start,
                end=end,
                step_s=STEP_S,
            )
            if not series:
                missing.append(f"{board} / {title}: {expr}")
        return missing

    # Scrapes are every second; the last counters appear within a few.
    deadline = time.monotonic() + 30
    while (missing := empty()) and time.monotonic() < deadline:
        time.sleep(1)
    assert not missing, "queries with no series:\n" + "\n".join(missing)


def test_every_metric_name_is_scraped(observed: Observed, prometheus: PrometheusClient) -> None:
    used = set().union(*(metric_names(expr) for _, _, expr in _all_queries()))
    scraped = eventually(
        lambda: (names := prometheus.metric_names()) >= used - ONLY_AFTER_A_FAILURE and names,
        "Prometheus to hold every metric the dashboards use",
        timeout_s=30,
    )
    assert isinstance(scraped, set)
    shop_defines = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in REGISTRY.collect()
    }
    assert used >= ONLY_AFTER_A_FAILURE
    assert shop_defines >= ONLY_AFTER_A_FAILURE


def test_the_annotation_query_finds_the_fault_window(
    observed: Observed, prometheus: PrometheusClient
) -> None:
    def toxic_windows() -> list[FaultWindow]:
        found = fault_windows(
            prometheus, load_dashboard("overview"), start=observed.start, end=time.time(), step_s=1
        )
        return [w for w in found if TOXIC in w.label]

    (window,) = eventually(toxic_windows, "the toxic's fault window", timeout_s=30)  # type: ignore[misc]
    assert window.label == f"fault toxic: postgres/{TOXIC}"
    # Within a scrape (and a step) of when the test added and removed the toxic.
    assert observed.toxic_on - 3 <= window.start <= observed.toxic_on + 3
    assert observed.toxic_off - 3 <= window.end <= observed.toxic_off + 3


def test_renderer_writes_every_dashboard(observed: Observed, stack: Stack, tmp_path: Path) -> None:
    for name in dashboard_names():
        (path,) = render_dashboard(
            name, stack.settings.prometheus_url, observed.start - 30, observed.end + 5, tmp_path
        )
        assert path == tmp_path / f"{name}.png"
        assert path.read_bytes()[:8] == PNG_MAGIC
        height, width, _channels = image.imread(path).shape
        assert width == 1920  # 24 grid columns
        assert height > 600


def test_renderer_writes_one_png_per_panel(
    observed: Observed, stack: Stack, tmp_path: Path
) -> None:
    board = load_dashboard("database")
    paths = render_dashboard(
        board,
        stack.settings.prometheus_url,
        observed.start,
        observed.end,
        tmp_path,
        per_panel=True,
    )
    assert len(paths) == len([p for p in board.panels if not p.is_row])
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in paths)


def test_fault_windows_are_shaded_red(observed: Observed, stack: Stack, tmp_path: Path) -> None:
    board = load_dashboard("overview")
    url = stack.settings.prometheus_url
    fault = FaultWindow(observed.toxic_on, observed.toxic_off, "latency")

    def panel_png(windows: list[FaultWindow], folder: str) -> np.ndarray:
        (path,) = render_dashboard(
            board, url, observed.start, observed.end, tmp_path / folder,
            fault_windows=windows, panels=["Request rate by route"],
        )  # fmt: skip
        assert path.name == "overview-07-request-rate-by-route.png"
        return image.imread(path)[..., :3]

    plain, shaded = panel_png([], "plain"), panel_png([fault], "shaded")
    changed = np.any(plain != shaded, axis=2)
    assert changed.any()
    red, green, blue = (shaded[..., c][changed] for c in range(3))
    # The shading is red over white: the changed pixels lean red.
    assert np.mean(red) > np.mean(green) and np.mean(red) > np.mean(blue)


def test_cli_renders_a_dashboard(
    observed: Observed, cli_env: dict[str, str], tmp_path: Path
) -> None:
    result = faultyard(cli_env, "dashboard", "runtime", "--since", "1m", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / "runtime.png")]
    assert (tmp_path / "runtime.png").read_bytes()[:8] == PNG_MAGIC
