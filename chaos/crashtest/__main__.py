"""`python -m chaos.crashtest` (`make crash-test`): kill scenario runs with SIGKILL, check the stack.

Uses the stack the environment describes (FAULTYARD_STATE_DIR, ports), started
if it is down, as `faultyard scenario` does. Exit code 0 when every point left
a clean stack, 1 when one did not, 2 for bad input or a stack that cannot start.
"""

from __future__ import annotations

import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

import click

from chaos.errors import FaultyardError

DEFAULT_SEED = 20261206


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--points", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many runs to kill.")  # fmt: skip
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="Draw these points again: scenario, mode, moment, delay, recovery.")  # fmt: skip
@click.option("--scenarios", help="Comma-separated names to draw from [default: the catalogue].")
@click.option(
    "--report-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
    show_default=True, help="Where the crashtest-TIMESTAMP folder goes.",
)  # fmt: skip
@click.option(
    "--summary", type=click.Path(dir_okay=False, path_type=Path),
    help="Also copy the Markdown report here (e.g. results/crash-test.md).",
)  # fmt: skip
def crash_test(
    points: int, seed: int, scenarios: str | None, report_dir: Path, summary: Path | None
) -> None:
    """Kill scenario runs with SIGKILL at seeded points; after each, recover and look.

    Each point runs a scenario of the catalogue and kills its runner at a moment
    (preflight, Locust's start, baseline, inject, observe, rollback, recovery,
    report) plus a delay; then `faultyard reset` or the next run's preflight
    recovers the stack, and the stack must show no toxic, no disabled proxy, no
    switch on, no setting changed, no stopped or unhealthy service, no missing
    or invalid index, no Locust process and no active-run file.
    """
    from chaos.crashtest.leftovers import indexes, leftovers
    from chaos.crashtest.plan import draw
    from chaos.crashtest.points import run_point
    from chaos.crashtest.report import verdict, write
    from chaos.faults.injector import Injector
    from chaos.scenarios.catalogue import load_catalogue
    from chaos.scenarios.cleanup import undo_crashed_run
    from chaos.settings import load_stack_settings
    from chaos.stack.manager import Stack

    known = list(load_catalogue())
    names = [n.strip() for n in scenarios.split(",") if n.strip()] if scenarios else known
    if unknown := [n for n in names if n not in known]:
        raise click.BadParameter(
            f"unknown scenario {', '.join(unknown)}; known: {', '.join(known)}",
            param_hint="--scenarios",
        )
    plan = draw(seed, points, names)
    stack = Stack(load_stack_settings(), progress=lambda m: click.echo(f"  {m}", err=True))
    stack.up()
    for line in undo_crashed_run(stack) + Injector(stack).sweep():
        click.echo(f"before the test: {line}")
    expected = {name: True for name, valid in indexes(stack).items() if valid}
    if before := leftovers(stack, expected, marker="chaos.crashtest.victim"):
        raise click.ClickException(f"the stack is not clean to begin with: {'; '.join(before)}")
    out_dir = report_dir / f"crashtest-{datetime.now():%Y%m%d-%H%M%S}"
    click.echo(f"crash test: {points} points, seed {seed}; reports in {out_dir}")
    started, results = time.monotonic(), []
    for point in plan:
        click.echo(f"[{point.number}/{points}] {point.describe()}")
        result = run_point(stack, point, out_dir, expected)
        results.append(result)
        killed = f"killed in {result.killed_in}" if result.killed else result.killed_in
        left = "; ".join(result.left_after) or "clean"
        click.echo(
            f"    {killed}, the kill left: {'; '.join(result.left_by_kill) or 'nothing'}; "
            f"after {point.recovery}: {left} ({result.seconds:.0f}s)"
        )
    took = time.monotonic() - started
    report = write(results, out_dir, seed=seed, took_s=took)
    if summary is not None:
        summary.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(report, summary)
    click.echo(f"{verdict(results)}; report: {report}")
    sys.exit(0 if all(r.clean for r in results) else 1)


if __name__ == "__main__":
    try:
        crash_test.main(prog_name="python -m chaos.crashtest", standalone_mode=True)
    except FaultyardError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
