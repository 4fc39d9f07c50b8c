"""Durations as people type them: "500ms", "30s", "10m", "2h", "1d", or plain seconds."""

from __future__ import annotations

import re

from chaos.errors import FaultyardError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class DurationError(FaultyardError):
    """Text that is not a duration."""


def parse_seconds(text: str, *, positive: bool = False) -> float:
    """Return the duration `text` stands for, in seconds; raise DurationError if it is none.

    With `positive`, zero is refused too.
    """
    match = _DURATION.match(text)
    if not match or (positive and float(match.group(1)) <= 0):
        raise DurationError(f"{text!r} is not a duration like 30s, 10m or 2h")
    return float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
