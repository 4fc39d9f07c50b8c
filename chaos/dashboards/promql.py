"""Grafana's query-time substitutions and PromQL text as the renderer reads it.

The queries themselves go through chaos.monitoring.prometheus.PrometheusClient.
"""

from __future__ import annotations

import re

from chaos.monitoring.prometheus import QueryError, Series

# Faultyard's Prometheus scrapes every target each second (the datasource's timeInterval).
SCRAPE_INTERVAL_S = 1.0


def rate_interval_s(step_s: float, scrape_interval_s: float = SCRAPE_INTERVAL_S) -> float:
    """Return Grafana's $__rate_interval: max($__interval + scrape interval, 4 x scrape interval)."""
    return max(step_s + scrape_interval_s, 4 * scrape_interval_s)


def _duration(seconds: float) -> str:
    # PromQL durations take integers; milliseconds keep sub-second steps exact.
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def expand_variables(
    expr: str, *, step_s: float, range_s: float, variables: dict[str, str] | None = None
) -> str:
    """Substitute Grafana's built-in variables ($__rate_interval, $__interval, $__range...)."""
    builtins = {
        "__rate_interval": _duration(rate_interval_s(step_s)),
        "__interval": _duration(step_s),
        "__interval_ms": str(round(step_s * 1000)),
        "__range": _duration(range_s),
        "__range_s": str(round(range_s)),
        "__range_ms": str(round(range_s * 1000)),
        **(variables or {}),
    }

    def replace(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        if name not in builtins:
            raise QueryError(f"unknown Grafana variable ${name} in {expr!r}")
        return builtins[name]

    return _VARIABLE.sub(replace, expr)


_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def legend(series: Series, legend_format: str, expr: str) -> str:
    """Name a series as Grafana does: legendFormat with {{label}} filled in, else its labels."""
    if legend_format and legend_format != "__auto":
        text = _LEGEND_LABEL.sub(lambda m: series.labels.get(m.group(1), ""), legend_format)
        return " ".join(text.split())
    labels = {k: v for k, v in series.labels.items() if k != "__name__"}
    name = series.labels.get("__name__", "")
    if not labels:
        return name or expr
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENTIFIER = re.compile(r"(?<![\w.])([a-zA-Z_:][\w:]*)(?!\w)(\s*\()?")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
             "unless", "bool", "offset", "inf", "nan"}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """Return the metric names a PromQL expression selects (functions and labels left out)."""
    text = _STRING.sub('""', expr)
    for pattern in (_MATCHERS, _GROUPING, _RANGE):
        text = pattern.sub(" ", text)
    return {
        match.group(1)
        for match in _IDENTIFIER.finditer(text)
        if match.group(2) is None and match.group(1).lower() not in _KEYWORDS
    }
