"""`faultyard list|show|load`: the scenario catalogue, one scenario's guide, and free load."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import click
from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from chaos.errors import StackError
from chaos.scenarios.catalogue import get_scenario, load_entries
from chaos.scenarios.catalogue_table import markdown_table
from chaos.scenarios.journeys import locustfile
from chaos.scenarios.model import Probe, Scenario
from chaos.settings import load_stack_settings

#: Locust's own default web port; LOCUST_WEB_PORT or --web-port choose another.
LOCUST_WEB_PORT = 8089


def console() -> Console:
    """Return a console for stdout: styled on a terminal, plain text otherwise."""
    return Console(highlight=False)


def emit(*parts: RenderableType) -> None:
    """Print to a terminal with style, elsewhere as plain lines without trailing blanks.

    Plain strings are printed as they are, never wrapped or cut (URLs stay whole).
    """
    out = console()
    with out.capture() as captured:
        for part in parts:
            out.print(part, soft_wrap=isinstance(part, str), markup=False)
    text = captured.get()
    if out.is_terminal:
        sys.stdout.write(text)
    else:
        click.echo("\n".join(line.rstrip() for line in text.splitlines()))


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
@click.option(
    "--markdown", is_flag=True, help="Print the catalogue as the README's Markdown table."
)
def list_scenarios(as_json: bool, markdown: bool) -> None:
    """List the scenarios: name, difficulty, title and where each came from.

    \b
    Built-in scenarios live in scenarios/; folders of your own are searched
    after it when FAULTYARD_SCENARIOS_PATH names them (separated by ':').
    """
    entries = load_entries()
    if as_json:
        rows = [
            {"name": e.scenario.name, "title": e.scenario.title,
             "difficulty": e.scenario.difficulty, "source": e.source}
            for e in entries.values()
        ]  # fmt: skip
        click.echo(json.dumps(rows, indent=2))
        return
    if markdown:
        click.echo(markdown_table(entries), nl=False)
        return
    table = Table(box=box.SIMPLE_HEAD if console().is_terminal else None, pad_edge=False)
    for column in ("NAME", "DIFFICULTY", "TITLE", "SOURCE"):
        table.add_column(column, no_wrap=column not in ("TITLE", "SOURCE"))
    for e in entries.values():
        table.add_row(e.scenario.name, e.scenario.difficulty, e.scenario.title, e.source)
    emit(table)


def _heading(title: str) -> Text:
    return Text(f"\n{title}", style="bold")


def _indented(renderable: RenderableType) -> Padding:
    return Padding(renderable, (0, 0, 0, 2))


def _bullets(items: Iterable[str | Text]) -> Table:
    """Return items as a list with hanging indents."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")  # long PromQL is folded, never cut short
    for item in items:
        grid.add_row("-", item if isinstance(item, Text) else Text(item))
    return grid


def _probes(probes: Iterable[Probe]) -> Table:
    return _bullets(
        Text.assemble((p.name, "bold"), f" ({p.kind}): {p.description}\n", (p.describe(), "dim"))
        for p in probes
    )


def render_scenario(s: Scenario) -> list[RenderableType]:
    """Return everything a person needs to learn a scenario (the answer key is left to drills)."""
    load = s.load
    journeys = ", ".join(f"{name} {weight}" for name, weight in load.journeys.items())
    g = s.guide
    body = Group(
        Text.assemble((s.name, "bold"), f": {s.title}"),
        Text(f"difficulty: {s.difficulty}"),
        _heading("The page (what a drill shows)"),
        _indented(Text(s.page)),
        _heading("Faults"),
        _indented(_bullets(f.describe() for f in s.faults)),
        _heading("Fix (what --fixed changes)"),
        _indented(_bullets(f.describe() for f in s.fix)),
        _heading("Load"),
        _indented(
            Text(
                f"{load.users} users, spawned {load.spawn_rate:g}/s, for {load.duration_s:g} s; "
                f"journeys (weight): {journeys}"
            )
        ),
        _heading("Symptoms (must appear with the fault on)"),
        _indented(_probes(s.symptoms)),
        _heading("SLO (must hold with the fix on)"),
        _indented(_probes(s.slo)),
        _heading("Where to look"),
        _indented(_bullets(g.where_to_look)),
        _heading("What you will see"),
        _indented(_bullets(g.what_you_will_see)),
        _heading("Root cause"),
        _indented(Text(g.root_cause)),
        _heading("Fix"),
        _indented(Text(g.fix)),
        _heading("Further reading"),
    )
    links = [f"  - {link.title}\n    {link.url}" for link in g.further_reading]
    return [body, *links]


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the whole scenario as JSON.")
def show(name: str, as_json: bool) -> None:
    """Show a scenario: its page, faults, probes and diagnosis guide."""
    scenario = get_scenario(name)
    if as_json:
        click.echo(json.dumps(scenario.model_dump(mode="json"), indent=2))
        return
    emit(*render_scenario(scenario))


def check_shop(url: str) -> None:
    """Raise StackError unless the shop answers at `url` (its liveness, no database needed)."""
    import requests  # only `load` asks; `list` and `show` need no HTTP

    try:
        requests.get(f"{url}/healthz", timeout=3).raise_for_status()
    except requests.RequestException as exc:
        raise StackError(
            f"the shop does not answer at {url} (through the shop proxy): {exc.__class__.__name__}; "
            "start the stack first with `make up` (or `faultyard up`)"
        ) from None


@click.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "--web-port",
    type=click.IntRange(1, 65535),
    default=LOCUST_WEB_PORT,
    envvar="LOCUST_WEB_PORT",
    show_default=True,
    help="Port of Locust's web UI (on 127.0.0.1).",
)
@click.option("--users", type=click.IntRange(1), default=20, show_default=True, help="Shoppers.")
@click.option(
    "--spawn-rate", type=click.FloatRange(min=0, min_open=True), default=5, show_default=True
)
@click.option("--headless", is_flag=True, help="No web UI: run in the terminal (with --run-time).")
@click.option("--run-time", help="Stop after this long, e.g. 30s or 5m (headless).")
@click.argument("locust_args", nargs=-1, type=click.UNPROCESSED)
def load(
    web_port: int,
    users: int,
    spawn_rate: float,
    headless: bool,
    run_time: str | None,
    locust_args: tuple[str, ...],
) -> None:
    """Drive shoppers at the running stack with Locust: its web UI on 127.0.0.1, or headless.

    \b
    Needs the stack running (`make up`). Shoppers go through the shop proxy, so
    network faults on it reach them. Every journey runs at its default weight;
    name journeys (e.g. Browser Buyer) or pass other Locust options after `--`.
    """
    url = load_stack_settings().shop_url
    check_shop(url)
    argv = [
        sys.executable, "-m", "locust", "-f", str(locustfile()), "--host", url,
        "--users", str(users), "--spawn-rate", f"{spawn_rate:g}",
    ]  # fmt: skip
    if headless:
        argv += ["--headless", *(["--run-time", run_time] if run_time else [])]
    else:
        argv += ["--web-host", "127.0.0.1", "--web-port", str(web_port), "--class-picker"]
        click.echo(
            f"Locust's web UI: http://127.0.0.1:{web_port} (shoppers -> {url}); Ctrl-C stops it"
        )
    sys.stdout.flush()
    os.execv(sys.executable, [*argv, *locust_args])


@click.command(name="scenario")
@click.argument("name")
@click.option(
    "--fixed", is_flag=True, help="The fix on: the symptoms must stay away, the SLO hold."
)
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    help="Seconds the fault stays on at most (the observe window) [default: the scenario's].",
)
@click.option("--users", type=click.IntRange(1, 1000), help="Shoppers [default: the scenario's].")
@click.option("--seed", type=int, help="Seed the shoppers' random choices.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the journal as JSON (progress on stderr)."
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    envvar="FAULTYARD_REPORTS_DIR",
    show_default=True,
    help="Where NAME-TIMESTAMP report folders go.",
)
def scenario(
    name: str,
    fixed: bool,
    duration: float | None,
    users: int | None,
    seed: int | None,
    as_json: bool,
    report_dir: Path,
) -> None:
    """Run a scenario end to end: baseline, inject under load, observe, roll back, report.

    \b
    Brings the stack up if it is down. Exit codes: 0 as expected (the symptoms
    appeared; with --fixed, they stayed away and the SLO held), 1 deviated,
    2 usage or environment error, 130 interrupted (after rolling back).
    """
    from chaos.cli.common import current_stack, refuse_during_drill
    from chaos.scenarios.run_index import refuse_if_running
    from chaos.scenarios.runner import RunOptions, run_scenario

    refuse_during_drill("no scenario runs")
    chosen = get_scenario(name)
    refuse_if_running(load_stack_settings(), f"{name} cannot start")
    options = RunOptions(
        fixed=fixed, duration_s=duration, users=users, seed=seed, report_root=report_dir
    )
    out = Console(stderr=as_json, highlight=False)
    journal = run_scenario(
        chosen, current_stack(), options, console=out, live=out.is_terminal and not as_json
    )
    if as_json:
        click.echo(json.dumps(journal.to_dict(), indent=2, default=str))
    else:
        observe = journal.phase("observe")
        turned = (observe.output.get("time_to_symptom_s") or {}) if observe else {}
        for probe, seconds in turned.items():
            click.echo(f"  {probe}: " + ("never" if seconds is None else f"+{seconds:.1f}s"))
        for deviation in journal.deviations:
            click.echo(f"  deviation: {deviation}")
        click.echo(
            f"{name}: {journal.verdict} (exit {journal.exit_code}); report: {journal.report_dir}/report.md"
        )
    sys.exit(journal.exit_code if journal.exit_code is not None else 2)
