"""Durations as people type them, one parser for every command."""

from __future__ import annotations

import pytest

from chaos.durations import DurationError, parse_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("45", 45),
     (" 1.5m ", 90), ("0s", 0)],
)  # fmt: skip
def test_each_unit(text: str, seconds: float) -> None:
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "10x", "-5s", "5 minutes", "1h30m"])
def test_what_is_not_a_duration_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(DurationError, match="is not a duration like 30s"):
        parse_seconds(text)


def test_positive_refuses_zero() -> None:
    with pytest.raises(DurationError):
        parse_seconds("0m", positive=True)
    assert parse_seconds("1ms", positive=True) == 0.001
