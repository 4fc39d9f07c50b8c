"""`faultyard traces`: the slowest traces as span trees, read from the stack's span files."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime

import click

from chaos.cli.common import shop_settings
from chaos.durations import DurationError, parse_seconds
from chaos.traces import Span, Trace, as_json, load_traces, select_traces

#: A run of this many similar sibling spans (an N+1 loop) prints as one line.
COLLAPSE_RUN = 3


def parse_since_s(text: str) -> float:
    """Parse "500ms", "30s", "10m", "2h" or a plain number of seconds into seconds."""
    try:
        return parse_seconds(text)
    except DurationError as exc:
        raise click.BadParameter(str(exc)) from None


def _plain(text: str) -> str:
    return text


def _red(text: str) -> str:
    return click.style(text, fg="red", bold=True)


def render(trace: Trace, *, alarm: Callable[[str], str] = _plain) -> list[str]:
    """Return a trace as text: a header, then one line per span with its offset and duration."""
    root = trace.root
    started = datetime.fromtimestamp(trace.start_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")
    lines = [
        f"trace {trace.trace_id}  {root.duration_ms:.1f} ms  {root.label}  "
        f"[{started}; whole trace {trace.duration_ms:.1f} ms, {len(trace.spans)} spans, "
        f"{', '.join(trace.services)}]",
        f"{'START ms':>10} {'TOOK ms':>9}  SPAN",
    ]

    def line(
        span: Span, tree: str, text: str, parent_service: str | None, took_ms: float | None = None
    ) -> None:
        offset = (span.start_ns - trace.start_ns) / 1e6
        took = span.duration_ms if took_ms is None else took_ms
        service = f"  ({span.service})" if span.service != parent_service else ""
        error = alarm(f"  ERROR {span.error}") if span.error else ""
        lines.append(f"{offset:>+10.1f} {took:>9.1f}  {tree}{text}{service}{error}")

    def walk(span: Span, prefix: str, connector: str, parent_service: str | None) -> None:
        line(span, prefix + connector, span.label, parent_service)
        inner = prefix + {"├─ ": "│  ", "└─ ": "   ", "": ""}[connector]
        runs = _similar_runs(span.children)
        for n, run in enumerate(runs):
            connector_last = "└─ " if n == len(runs) - 1 else "├─ "
            if len(run) == 1:
                walk(run[0], inner, connector_last, span.service)
                continue
            walk(run[0], inner, "├─ ", span.service)
            # TOOK is their total: what the loop cost the request.
            total = sum(s.duration_ms for s in run[1:])
            more = f"… {len(run) - 1} more like this"
            line(run[1], inner + connector_last, more, span.service, took_ms=total)

    for r in trace.roots:
        walk(r, "", "", None)
    return lines


def _similar_runs(children: list[Span]) -> list[list[Span]]:
    """Group consecutive leaf siblings doing the same thing; short runs stay one span each."""
    runs: list[list[Span]] = []
    for child in children:
        previous = runs[-1][0] if runs else None
        if (
            previous is not None
            and not child.children
            and not previous.children
            and not child.error
            and (child.service, child.label) == (previous.service, previous.label)
        ):
            runs[-1].append(child)
        else:
            runs.append([child])
    return [
        group
        for run in runs
        for group in ([run] if len(run) >= COLLAPSE_RUN else [[s] for s in run])
    ]


@click.command()
@click.option(
    "-n",
    "--slowest",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many traces to show.",
)
@click.option(
    "--since",
    metavar="DURATION",
    help="Only traces that ended in the last DURATION (30s, 10m, 2h).",
)
@click.option("--route", metavar="TEXT", help="Only traces through a route containing TEXT.")
@click.option("--errors", is_flag=True, help="Only traces with a failed span.")
@click.option(
    "--by",
    type=click.Choice(["root", "trace"]),
    default="root",
    show_default=True,
    help="Rank by the first span (the request) or the whole trace (with the jobs it caused).",
)
@click.option("--json", "json_output", is_flag=True, help="Print the traces as JSON.")
def traces(
    slowest: int, since: str | None, route: str | None, errors: bool, by: str, json_output: bool
) -> None:
    """Show the slowest traces as span trees with durations (ms) and errors; no Jaeger needed.

    Reads the span files the shop, the relay and the workers write into the
    state folder (STATE/traces). `faultyard logs --grep TRACE_ID` shows a
    trace's log lines.
    """
    directory = shop_settings().traces_dir.resolve()
    since_ns = time.time_ns() - int(parse_since_s(since) * 1e9) if since else None
    found = load_traces(directory, since_ns=since_ns)
    chosen = select_traces(found, route=route, errors_only=errors, slowest=slowest, by=by)
    if json_output:
        click.echo(json.dumps([as_json(t) for t in chosen], indent=2))
        return
    if not chosen:
        click.echo(f"no trace matches ({len(found)} traces read from {directory})")
        return
    for trace in chosen:
        click.echo("\n".join(render(trace, alarm=_red)))
        click.echo()
    click.echo(
        f"{len(chosen)} of {len(found)} traces; a trace's logs: faultyard logs --grep TRACE_ID"
    )
