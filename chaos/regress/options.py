"""The plugin's command line, and whether a run asks for chaos items at all.

Chaos items exist only when `-m` selects the `chaos` marker: an expression an
item marked `chaos` alone satisfies and an unmarked item does not (`chaos`,
`chaos and not slow`, `chaos or smoke`; not `not slow`, not `not chaos`). Any
other run, the project's own suite included, collects exactly what it would
without the plugin. Imports pytest and the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

MARKER = "chaos"
MODES = ("fixed", "bug")


def add_options(parser: pytest.Parser) -> None:
    """Add the --chaos-* options (they shape the items `-m chaos` asks for)."""
    group = parser.getgroup("faultyard", "chaos regression (faultyard; needs -m chaos)")
    group.addoption(
        "--chaos-mode",
        choices=MODES,
        default=None,
        help="fixed (default): each scenario with its fix on, its SLO must hold; "
        "bug: the bug on, every symptom must appear (tests the probes).",
    )
    group.addoption(
        "--chaos-scenarios",
        action="append",
        default=[],
        metavar="A,B",
        help="Run only these scenarios (comma-separated, repeatable) [default: the catalogue].",
    )
    group.addoption(
        "--chaos-report-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="Where the scenarios' reports, journal.json and summary.md go "
        "[default: reports/regress-TIMESTAMP].",
    )
    group.addoption(
        "--chaos-duration", type=float, default=None, metavar="S",
        help="Seconds of each observe window [default: each scenario's].",
    )  # fmt: skip
    group.addoption(
        "--chaos-users", type=int, default=None, metavar="N",
        help="Shoppers per scenario [default: each scenario's].",
    )  # fmt: skip
    group.addoption("--chaos-seed", type=int, default=None, metavar="N", help="Seed the shoppers.")


def chaos_selected(markexpr: str) -> bool:
    """Return whether the `-m` expression selects items marked `chaos` (and only because of it)."""
    if not markexpr.strip():
        return False
    from _pytest.mark.expression import Expression  # pytest's own parser of `-m`

    try:
        expression = Expression.compile(markexpr)
    except SyntaxError:
        return False  # pytest reports the bad expression itself

    def having(*marks: str) -> bool:
        return expression.evaluate(lambda name, /, **kwargs: name in marks and not kwargs)

    return having(MARKER) and not having()


@dataclass(frozen=True)
class ChaosOptions:
    """What a run with chaos items asked for."""

    fixed: bool
    scenarios: tuple[str, ...]
    report_dir: Path
    duration_s: float | None
    users: int | None
    seed: int | None

    @property
    def mode(self) -> str:
        """Return `fixed` or `bug`."""
        return "fixed" if self.fixed else "bug"


def _names(values: list[str]) -> tuple[str, ...]:
    names = [n.strip() for value in values for n in value.split(",") if n.strip()]
    return tuple(dict.fromkeys(names))


def _positive(config: pytest.Config, name: str) -> None:
    value = config.getoption(name)
    if value is not None and value <= 0:
        raise pytest.UsageError(f"--{name.replace('_', '-')} must be positive, not {value:g}")


def read_options(config: pytest.Config) -> ChaosOptions | None:
    """Return the chaos options, None when `-m` does not ask for chaos items.

    Raises UsageError for --chaos-mode or --chaos-scenarios without `-m chaos` (they would
    select nothing and the rest of the suite would run instead) and for bad values.
    """
    mode = config.getoption("chaos_mode")
    names = _names(config.getoption("chaos_scenarios"))
    if not chaos_selected(config.getoption("markexpr") or ""):
        if mode is not None or names:
            raise pytest.UsageError(
                "--chaos-mode and --chaos-scenarios choose chaos items: add -m chaos"
            )
        return None
    for name in ("chaos_duration", "chaos_users"):
        _positive(config, name)
    report_dir = config.getoption("chaos_report_dir")
    if report_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        report_dir = Path("reports") / f"regress-{stamp}"
    return ChaosOptions(
        fixed=mode != "bug",
        scenarios=names,
        report_dir=(config.invocation_params.dir / report_dir).resolve(),
        duration_s=config.getoption("chaos_duration"),
        users=config.getoption("chaos_users"),
        seed=config.getoption("chaos_seed"),
    )
