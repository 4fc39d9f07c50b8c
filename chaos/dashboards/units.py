"""Grafana's panel units (fieldConfig.defaults.unit) as value formatters."""

from __future__ import annotations

import math
from collections.abc import Callable

_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_BINARY = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))
_DECIMAL_BYTES = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"))


def _number(value: float) -> str:
    # Three significant digits, no trailing zeros: 0.123, 12.3, 123.
    if value == 0:
        return "0"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def _scaled(value: float, scales: tuple[tuple[float, str], ...], base: str) -> str:
    for factor, suffix in scales:
        if abs(value) >= factor:
            return f"{_number(value / factor)} {suffix}"
    return f"{_number(value)}{' ' + base if base else ''}"


def _short(value: float) -> str:
    return _scaled(value, _SI, "").replace(" ", "")


def _seconds(value: float) -> str:
    magnitude = abs(value)
    if magnitude == 0:
        return "0 s"
    if magnitude < 1e-3:
        return f"{_number(value * 1e6)} µs"
    if magnitude < 1:
        return f"{_number(value * 1e3)} ms"
    if magnitude < 60:
        return f"{_number(value)} s"
    if magnitude < 3600:
        return f"{_number(value / 60)} min"
    return f"{_number(value / 3600)} h"


def _per_second(suffix: str) -> Callable[[float], str]:
    return lambda v: f"{_short(v)} {suffix}"


FORMATTERS: dict[str, Callable[[float], str]] = {
    "s": _seconds,
    "ms": lambda v: _seconds(v / 1000),
    "bytes": lambda v: _scaled(v, _BINARY, "B"),
    "decbytes": lambda v: _scaled(v, _DECIMAL_BYTES, "B"),
    "Bps": lambda v: _scaled(v, _DECIMAL_BYTES, "B") + "/s",
    "binBps": lambda v: _scaled(v, _BINARY, "B") + "/s",
    "percent": lambda v: f"{_number(v)}%",
    "percentunit": lambda v: f"{_number(v * 100)}%",
    "reqps": _per_second("req/s"),
    "ops": _per_second("ops/s"),
    "cps": _per_second("c/s"),
    "short": _short,
    "none": _number,
}


def format_value(value: float, unit: str) -> str:
    """Format a value in a Grafana unit; unknown units fall back to "short"."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return FORMATTERS.get(unit, _short)(value)
