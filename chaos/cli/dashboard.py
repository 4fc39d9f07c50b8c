"""`faultyard dashboard`: render the Grafana dashboards to PNG from the stack's Prometheus."""

from __future__ import annotations

import time
from pathlib import Path

import click

from chaos.dashboards.model import dashboard_names
from chaos.durations import DurationError, parse_seconds
from chaos.settings import load_stack_settings


def parse_span_s(text: str) -> float:
    """Parse "10m", "90s", "1h", "500ms" or a plain number of seconds into seconds."""
    try:
        return parse_seconds(text, positive=True)
    except DurationError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.argument("name", required=False, type=click.Choice(dashboard_names()))
@click.option(
    "--since",
    default="10m",
    show_default=True,
    help="How far back to draw, ending now (10m, 1h, 90s).",
)
@click.option("--step", help="Seconds between points (default: about 300 points per series).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the PNG files (default: STATE/dashboards).",
)
@click.option("--per-panel", is_flag=True, help="One PNG per panel instead of one per dashboard.")
@click.option("--prometheus-url", help="Prometheus to query (default: the stack's).")
def dashboard(
    name: str | None,
    since: str,
    step: str | None,
    out_dir: Path | None,
    per_panel: bool,
    prometheus_url: str | None,
) -> None:
    """Render the Grafana dashboards (or only NAME) to PNG, fault windows shaded red.

    The panels are the ones Grafana shows, read from dashboards/grafana/dashboards;
    every query runs against Prometheus with query_range.
    """
    from chaos.dashboards.render import render_dashboard

    settings = load_stack_settings()
    span_s = parse_span_s(since)
    step_s = parse_span_s(step) if step else None
    end = time.time()
    out = out_dir or settings.state_path / "dashboards"
    url = prometheus_url or settings.prometheus_url
    for board in [name] if name else dashboard_names():
        for path in render_dashboard(
            board, url, end - span_s, end, out, step_s=step_s, per_panel=per_panel
        ):
            click.echo(str(path))
