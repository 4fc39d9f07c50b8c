"""Grafana's query-time substitutions, legends, units and fault windows, as the renderer applies them."""

from __future__ import annotations

import math

import pytest

from chaos.dashboards.faults import FaultWindow, windows_of
from chaos.dashboards.promql import expand_variables, legend, metric_names
from chaos.dashboards.units import format_value
from chaos.monitoring.prometheus import QueryError, Series


def test_rate_interval_is_grafanas_formula_for_a_one_second_scrape() -> None:
    # max($__interval + scrape interval, 4 x scrape interval)
    assert expand_variables("rate(x[$__rate_interval])", step_s=1, range_s=600) == "rate(x[4s])"
    assert expand_variables("rate(x[$__rate_interval])", step_s=15, range_s=600) == "rate(x[16s])"
    assert expand_variables("rate(x[${__rate_interval}])", step_s=0.5, range_s=60) == "rate(x[4s])"


def test_interval_and_range_variables() -> None:
    expr = "increase(x[$__range]) / $__range_s + $__interval_ms * avg_over_time(y[$__interval])"
    assert expand_variables(expr, step_s=2.5, range_s=600) == (
        "increase(x[600s]) / 600 + 2500 * avg_over_time(y[2500ms])"
    )


def test_dashboard_variables_are_substituted_and_unknown_ones_refused() -> None:
    assert expand_variables('x{job="$job"}', step_s=1, range_s=60, variables={"job": "shop"}) == (
        'x{job="shop"}'
    )
    with pytest.raises(QueryError, match=r"unknown Grafana variable \$route"):
        expand_variables('x{route="$route"}', step_s=1, range_s=60)


def test_a_regex_anchor_is_not_a_variable() -> None:
    expr = 'x{route=~"/products$", status=~"5.."}'
    assert expand_variables(expr, step_s=1, range_s=60) == expr


def test_legend_fills_labels_and_falls_back_to_the_series_name() -> None:
    series = Series({"__name__": "up", "job": "shop", "route": "/products"}, [], [])
    assert legend(series, "p99 {{route}}", "e") == "p99 /products"
    assert legend(series, "{{ job }} {{missing}}", "e") == "shop"
    assert legend(series, "", "e") == 'up{job="shop", route="/products"}'
    assert legend(Series({}, [], []), "__auto", "sum(up)") == "sum(up)"


def test_metric_names_leave_out_functions_labels_strings_and_keywords() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{route!~"/metrics|b"}[5m])))'
        ' / on (job) group_left (x) b offset 1m > bool 1e3 or vector(0) and c{d="e"}'
    )
    assert metric_names(expr) == {"a_bucket", "b", "c"}


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.0123, "s", "12.3 ms"),
        (2.5, "s", "2.5 s"),
        (90, "s", "1.5 min"),
        (0.000004, "s", "4 µs"),
        (250, "ms", "250 ms"),
        (3 * 2**20, "bytes", "3 MiB"),
        (1500, "Bps", "1.5 kB/s"),
        (0.25, "percentunit", "25%"),
        (42, "percent", "42%"),
        (12.5, "reqps", "12.5 req/s"),
        (1200, "short", "1.2k"),
        (0, "ops", "0 ops/s"),
        (7, "no-such-unit", "7"),
    ],
)
def test_units_format_as_grafana_names_them(value: float, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_nan_and_infinity_are_shown_as_such() -> None:
    assert format_value(math.nan, "s") == "NaN"
    assert format_value(math.inf, "s") == "+Inf"


def test_fault_windows_are_runs_of_non_zero_samples() -> None:
    series = Series({}, [10, 11, 12, 13, 14, 15, 20, 21], [0, 1, 1, 0, 1, 1, 1, 1])
    assert windows_of(series, step_s=1, label="f") == [
        # A sample stands for the step that ends at it.
        FaultWindow(10, 12, "f"),
        FaultWindow(13, 15, "f"),
        # Missing samples (the series went away) close a window.
        FaultWindow(19, 21, "f"),
    ]


def test_no_fault_no_window() -> None:
    assert windows_of(Series({}, [1, 2, 3], [0, math.nan, 0]), step_s=1, label="f") == []
