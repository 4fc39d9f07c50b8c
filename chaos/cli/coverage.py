"""`faultyard coverage`: which alert rules each scenario's fault sets off, and how fast."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from chaos.cli.common import current_stack, refuse_during_drill
from chaos.scenarios.catalogue import get_scenario, load_catalogue


@click.command()
@click.option("--scenarios", help="Comma-separated names (default: the whole catalogue).")
@click.option(
    "--window", type=click.FloatRange(min=5), default=60.0, show_default=True,
    help="Seconds to watch the alerts after each injection.",
)  # fmt: skip
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("results/coverage"),
    show_default=True, help="Write the matrix to OUT.md and OUT.json.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the matrix as JSON.")
def coverage(scenarios: str | None, window: float, out: Path, as_json: bool) -> None:
    """Inject each scenario's faults under its load and list the alerts that fire.

    \b
    One scenario at a time, rolled back before the next: where a fault sets off no
    alert, the alerting is blind to it.
    """
    from chaos.drill.coverage import firing, markdown, measure
    from chaos.monitoring.prometheus import PrometheusClient

    refuse_during_drill("no coverage run")
    names = [n.strip() for n in scenarios.split(",")] if scenarios else list(load_catalogue())
    chosen = [get_scenario(n) for n in names]  # unknown names fail here, with the known ones
    stack = current_stack(verbose=not as_json)
    stack.up()
    say = (lambda _line: None) if as_json else click.echo
    quiet = firing(PrometheusClient(stack.settings.prometheus_url, timeout_s=5))
    rows = [
        measure(stack, scenario, window_s=window, quiet=quiet, progress=say) for scenario in chosen
    ]
    summary = {"window_s": window, "scenarios": [asdict(r) for r in rows]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    text = "\n".join(markdown(rows, window)) + "\n"
    out.with_suffix(".md").write_text(text)
    click.echo(json.dumps(summary, indent=2) if as_json else text.rstrip("\n"))
