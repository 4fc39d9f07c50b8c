"""`faultyard up|down|status|logs|reload`: the native stack."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click

from chaos.cli.common import COMPOSE_CLI, current_stack, native_only
from chaos.cli.traces import parse_since_s
from chaos.log_formats import LEVELS
from chaos.logs import LogQuery, search_logs
from chaos.monitoring.prometheus import PrometheusClient, PrometheusError
from chaos.stack.service import ServiceState
from chaos.stack.state_dir import tail
from chaos.toxiproxy import ToxiproxyClient, ToxiproxyError


def print_states(states: list[ServiceState]) -> None:
    w = max([10, *(len(s.name) for s in states)])
    click.echo(f"{'SERVICE':<{w}} {'STATE':<10} {'PID':>7}  {'READY IN':>8}  ADDRESS / DETAIL")
    for s in states:
        state = "healthy" if s.healthy else ("unhealthy" if s.running else "stopped")
        ready = f"{s.ready_after_s:.1f}s" if s.ready_after_s is not None else "-"
        extra = f"  ({s.detail})" if s.detail else ""
        click.echo(f"{s.name:<{w}} {state:<10} {s.pid or '-':>7}  {ready:>8}  {s.address}{extra}")


def print_scrape_targets(client: PrometheusClient) -> None:
    """Print each Prometheus scrape target's health (PrometheusError if it does not answer)."""
    targets = client.targets()
    click.echo(f"\n{'SCRAPE JOB':<12} {'INSTANCE':<22} {'HEALTH':<8} LAST ERROR")
    for t in targets:
        click.echo(f"{t.job:<12} {t.instance:<22} {t.health:<8} {t.last_error or '-'}")


def print_proxies(client: ToxiproxyClient) -> None:
    """Print every proxy and its toxics (ToxiproxyError if the API does not answer)."""
    proxies = client.proxies()
    click.echo("\nPROXY      LISTEN -> UPSTREAM                       TOXICS")
    for p in proxies.values():
        toxics = ", ".join(
            f"{t.name} ({t.type} {t.stream}"
            + "".join(f" {k}={v}" for k, v in t.attributes.items())
            + (f" toxicity={t.toxicity:g}" if t.toxicity < 1 else "")
            + ")"
            for t in p.toxics
        )
        state = "" if p.enabled else " [DISABLED]"
        click.echo(f"{p.name:<10} {p.listen} -> {p.upstream}{state:<12} {toxics or '-'}")


def print_process_faults(state_path: Path) -> None:
    """Print the process faults on (`faultyard kill|pause|term`), if any."""
    from chaos.faults.process_log import faults_on

    faults = faults_on(state_path)
    if faults:
        click.echo("\nPROCESS FAULTS (undone by `faultyard reset`)")
        for fault in faults:
            click.echo(f"  {fault.describe()}")


@click.command()
def up() -> None:
    """Start the native stack on 127.0.0.1 and wait until every service answers."""
    native_only("up", "run `make compose-up`")
    stack = current_stack()
    started = time.monotonic()
    states = stack.up()
    print_states(states)
    fresh = [s for s in states if s.started]
    if fresh:
        click.echo(f"stack ready in {time.monotonic() - started:.1f}s ({len(fresh)} started)")
    else:
        click.echo("stack already running")
    s = stack.settings
    click.echo(
        f"shop: {s.shop_url} (through the proxy; direct: {s.app_url})   state: {stack.state}"
    )
    click.echo(f"console: {s.console_url} (dashboards live, runs and drills in a browser)")
    click.echo(f"prometheus: {s.prometheus_url}   rq-dashboard: {s.rq_dashboard_url}")


@click.command()
@click.argument("service")
def reload(service: str) -> None:
    """Restart SERVICE gracefully (app: new gunicorn workers, the old ones finish and leave).

    Against the compose stack only the shop (app) reloads, through its admin API.
    """
    state = current_stack().reload(service)
    click.echo(f"{state.name} reloaded in {state.ready_after_s:.1f}s ({state.detail})")


@click.command()
def down() -> None:
    """Stop every process this state folder started (and nothing else)."""
    native_only("down", "run `make compose-down`")
    stopped = current_stack().down()
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@click.command()
def status() -> None:
    """Show each service's health and the proxies' toxics; exit 1 if a service is down.

    Then the process faults on (paused, killed or terminated services). While a
    drill runs, the proxies, their toxics and the process faults are hidden.
    """
    stack = current_stack(verbose=False)
    states = stack.status()
    print_states(states)
    from chaos.drill.state import in_progress

    if in_progress(stack.settings) is not None:
        click.echo("\nPROXIES    hidden while a drill runs (they stand for the network)")
    else:
        with contextlib.suppress(ToxiproxyError):  # the proxy's own row already says it is down
            print_proxies(ToxiproxyClient(stack.settings.toxiproxy_api_url, timeout_s=2))
        print_process_faults(stack.settings.state_path)
    with contextlib.suppress(PrometheusError):  # likewise Prometheus's row
        print_scrape_targets(PrometheusClient(stack.settings.prometheus_url, timeout_s=2))
    if not all(s.healthy for s in states):
        sys.exit(1)


def _matching_lines(path: Path, grep: str | None, lines: int) -> list[str]:
    if grep is None:
        return tail(path, lines=lines).splitlines()
    with open(path, errors="replace") as f:
        return [line.rstrip("\n") for line in f if grep in line][-lines:]


def _follow(path: Path, grep: str | None) -> Iterator[str]:
    with open(path, errors="replace") as f:
        f.seek(0, 2)
        while True:
            line = f.readline()
            if not line:
                time.sleep(0.2)
                continue
            if grep is None or grep in line:
                yield line.rstrip("\n")


def _print_entries(
    folder: Path, names: list[str], window_s: float | None, level: str, grep: str | None, lines: int
) -> None:
    """Print the newest `lines` entries of these services within the window, in time order."""
    now = time.time()
    start = now - window_s if window_s is not None else 0.0
    query = LogQuery(start=start, end=now, min_level=level, text=grep, limit=lines)
    answer = search_logs(folder, names, query)
    for line in answer.lines:
        moment = time.strftime("%H:%M:%S", time.localtime(line.time))
        click.echo(f"{moment} {line.service:<16} {line.level:<8} {line.message}")
    if answer.truncated:
        click.echo(f"(the newest {lines}; more matched: raise --lines)", err=True)
    if not answer.lines:
        click.echo("no line matches", err=True)


@click.command()
@click.argument("service", required=False)
@click.option(
    "-n",
    "--lines",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many lines to show.",
)
@click.option(
    "-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C stops); needs SERVICE."
)
@click.option("--grep", metavar="TEXT", help="Only lines containing TEXT (searches the whole log).")
@click.option(
    "--since",
    metavar="DURATION",
    help="Only the last DURATION (30s, 10m, 2h), every service's lines merged in time order.",
)
@click.option(
    "--level",
    type=click.Choice(LEVELS, case_sensitive=False),
    help="Only lines at least this severe (PostgreSQL's LOG counts as INFO), merged in time order.",
)
def logs(
    service: str | None,
    lines: int,
    follow: bool,
    grep: str | None,
    since: str | None,
    level: str | None,
) -> None:
    """Show a service's log (every service's when SERVICE is left out).

    With --since or --level the lines are read as entries (a traceback stays with
    its line), merged across services in time order: what the console shows for a
    dashboard's range.
    """
    native_only("logs", f"run `{COMPOSE_CLI} logs{' ' + service if service else ''}`")
    stack = current_stack(verbose=False)
    if service is not None and service not in stack.names():
        raise click.BadParameter(
            f"unknown service {service!r}; choose one of: {', '.join(stack.names())}",
            param_hint="SERVICE",
        )
    if follow and service is None:
        raise click.UsageError("--follow needs a SERVICE")
    names = [service] if service else stack.names()
    if since is not None or level is not None:
        if follow:
            raise click.UsageError("--follow reads new lines as they come: no --since or --level")
        window_s = parse_since_s(since) if since is not None else None
        _print_entries(
            stack.state / "logs", names, window_s, (level or "DEBUG").upper(), grep, lines
        )
        return
    for name in names:
        path = stack.log_file(name)
        if not path.exists():
            click.echo(f"== {name}: no log yet ({path})")
            continue
        if len(names) > 1:
            click.echo(f"== {name} ({path})")
        click.echo("\n".join(_matching_lines(path, grep, lines)))
    if follow:
        for line in _follow(stack.log_file(names[0]), grep):
            click.echo(line)
