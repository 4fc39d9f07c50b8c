"""Prometheus's HTTP API as the renderer uses it, and Grafana's query-time substitutions."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import requests

from chaos.errors import FaultyardError

TIMEOUT_S = 10.0
# Faultyard's Prometheus scrapes every target each second (the datasource's timeInterval).
SCRAPE_INTERVAL_S = 1.0


class PrometheusError(FaultyardError):
    """Prometheus could not be reached or refused a query."""


class PrometheusUnavailableError(PrometheusError):
    """Nothing answers at the Prometheus URL."""


class QueryError(PrometheusError):
    """Prometheus refused a query (a PromQL syntax error, a bad range, a timeout)."""


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    times: list[float]
    values: list[float]


def _number(text: str) -> float:
    # Prometheus sends samples as strings: "1.5", "NaN", "+Inf".
    try:
        return float(text)
    except ValueError:
        return math.nan


class PrometheusClient:
    """Calls one Prometheus server's HTTP API; every call has a timeout and raises typed errors."""

    def __init__(self, url: str, *, timeout_s: float = TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._http = requests.Session()
        self._http.headers["User-Agent"] = "faultyard"

    def check(self) -> str:
        """Return the server's version; PrometheusUnavailableError when nothing answers."""
        return str(self._call("/api/v1/status/buildinfo", {}, method="GET")["version"])

    def query(self, expr: str, *, time: float | None = None) -> list[Series]:
        """Evaluate an instant query; each series has one sample."""
        params: dict[str, Any] = {"query": expr}
        if time is not None:
            params["time"] = time
        data = self._call("/api/v1/query", params)
        if data["resultType"] == "scalar":
            t, v = data["result"]
            return [Series({}, [float(t)], [_number(v)])]
        return [
            Series(dict(r["metric"]), [float(r["value"][0])], [_number(r["value"][1])])
            for r in data["result"]
        ]

    def query_range(self, expr: str, *, start: float, end: float, step_s: float) -> list[Series]:
        """Evaluate a range query from start to end (Unix seconds) every step_s seconds."""
        data = self._call(
            "/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step_s}
        )
        return [
            Series(
                dict(r["metric"]),
                [float(t) for t, _ in r["values"]],
                [_number(v) for _, v in r["values"]],
            )
            for r in data["result"]
        ]

    def metric_names(self) -> set[str]:
        """Return every metric name Prometheus holds samples of."""
        return set(self._call("/api/v1/label/__name__/values", {}, method="GET"))

    def _call(self, path: str, params: dict[str, Any], *, method: str = "POST") -> Any:
        # Queries go by POST: long expressions stay out of the URL (Grafana's httpMethod: POST).
        body = {"data": params} if method == "POST" else {"params": params}
        try:
            response = self._http.request(method, self.url + path, timeout=self.timeout_s, **body)
        except requests.RequestException as exc:
            raise PrometheusUnavailableError(
                f"Prometheus is not reachable at {self.url} ({type(exc).__name__}); "
                "is the stack up? (`faultyard up`)"
            ) from None
        try:
            answer = response.json()
        except ValueError:
            raise PrometheusError(
                f"{self.url}{path} answered HTTP {response.status_code}, not Prometheus JSON"
            ) from None
        if answer.get("status") != "success":
            query = params.get("query")
            where = f" for {query!r}" if query else ""
            raise QueryError(f"Prometheus refused the query{where}: {answer.get('error', answer)}")
        return answer["data"]


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
