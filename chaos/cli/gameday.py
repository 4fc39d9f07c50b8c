"""`faultyard gameday`: a seeded random schedule of faults, and where the alerting is blind."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chaos.cli.traces import parse_since_s

if TYPE_CHECKING:
    from chaos.drill.gameday_schedule import Schedule
    from chaos.scenarios.model import Scenario


def _duration(_ctx: click.Context, _param: click.Parameter, value: str) -> float:
    return parse_since_s(value)


@click.command()
@click.option(
    "--seed", type=int, help="Draw this schedule again [default: a random seed, printed]."
)
@click.option(
    "--duration", default="20m", show_default=True, callback=_duration,
    help="How long the day lasts: 90s, 20m, 1h.",
)  # fmt: skip
@click.option(
    "--faults", type=click.IntRange(min=1), default=3, show_default=True,
    help="Faults to inject (each a scenario of the catalogue, once).",
)  # fmt: skip
@click.option("--scenarios", help="Comma-separated names to draw from [default: the catalogue].")
@click.option(
    "--report-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
    envvar="FAULTYARD_REPORTS_DIR", show_default=True,
    help="Where the gameday-TIMESTAMP report folder goes.",
)  # fmt: skip
@click.option(
    "--json", "as_json", is_flag=True, help="Print the summary as JSON (progress on stderr)."
)
@click.option("--dry-run", is_flag=True, help="Print the schedule only; no stack needed.")
def gameday(
    seed: int | None,
    duration: float,
    faults: int,
    scenarios: str | None,
    report_dir: Path,
    as_json: bool,
    dry_run: bool,
) -> None:
    """Inject a seeded random schedule of faults under load; report the alerts' coverage.

    \b
    For each fault: the alert rules that fired and how long after injection. Then the
    faults no alert caught (blind spots) and the alerts that fired with no fault
    (false positives). Conflicting faults (same proxy, switch, setting) never overlap.
    Ctrl-C or SIGTERM revert everything and still write the report (exit 130, 143).
    """
    from chaos.drill.gameday_schedule import draw
    from chaos.scenarios.catalogue import load_catalogue

    names = [n.strip() for n in scenarios.split(",") if n.strip()] if scenarios else None
    seed = secrets.randbelow(2**31) if seed is None else seed
    catalogue = load_catalogue()
    schedule = draw(catalogue, seed=seed, duration_s=duration, faults=faults, scenarios=names)
    say = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    say(f"Game day, seed {seed} ({duration:g}s, replay with --seed {seed}):")
    for line in schedule.lines():
        say(f"  {line}")
    if dry_run:
        if as_json:
            click.echo(json.dumps(schedule.to_dict(), indent=2))
        return
    summary, exit_code = _run(schedule, catalogue, names, report_dir, as_json, say)
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)
    if exit_code:
        sys.exit(exit_code)


def _run(
    schedule: Schedule,
    catalogue: Mapping[str, Scenario],
    names: list[str] | None,
    report_dir: Path,
    as_json: bool,
    say: Callable[[str], None],
) -> tuple[dict[str, Any], int | None]:
    """Run the day on the current stack; return its summary and the exit code of a signal."""
    from chaos.cli.common import current_stack, refuse_during_drill
    from chaos.drill.gameday import GameDay, refuse_if_running
    from chaos.scenarios.runner import report_dir as new_report_dir

    refuse_during_drill("no game day")
    stack = current_stack(verbose=not as_json)
    refuse_if_running(stack.settings)
    out_dir = new_report_dir(report_dir, "gameday").resolve()
    say(f"Report folder: {out_dir}")
    day = GameDay(stack, schedule, catalogue, out_dir, scenarios=names, progress=say)
    summary = day.run()
    return summary, day.signals.exit_code


def _print_summary(summary: dict[str, Any]) -> None:
    click.echo("")
    for fault in summary["faults"]:
        if fault["injected_s"] is None:
            click.echo(f"  {fault['scenario']}: not injected")
            continue
        fired = ", ".join(
            f"{a} +{s:g}s" for a, s in sorted(fault["alerts"].items(), key=lambda x: x[1])
        )
        none = "cut short before any alert" if fault["cut_short"] else "BLIND: no alert fired"
        click.echo(f"  {fault['scenario']}: {fired or none}")
    for fp in summary["false_positives"]:
        click.echo(
            f"  false positive: {fp['alert']} at +{fp['started_s']:g}s for {fp['duration_s']:g}s"
        )
    click.echo(f"Report: {summary['report_dir']}/gameday.md")
