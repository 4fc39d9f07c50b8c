"""The `faultyard` command: run the native stack and flip the shop's bug switches."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click

from chaos.admin_client import AdminClient
from chaos.errors import FaultyardError
from chaos.settings import StackSettings, load_stack_settings
from chaos.stack.manager import ServiceState, Stack, tail
from target_app.config import load_settings as load_shop_settings


def _stack(verbose: bool = True) -> Stack:
    settings = load_stack_settings()
    return Stack(
        settings,
        progress=(lambda m: click.echo(f"  {m}", err=True)) if verbose else (lambda m: None),
    )


def _print_states(states: list[ServiceState]) -> None:
    click.echo(f"{'SERVICE':<10} {'STATE':<10} {'PID':>7}  {'READY IN':>8}  ADDRESS / DETAIL")
    for s in states:
        state = "healthy" if s.healthy else ("unhealthy" if s.running else "stopped")
        ready = f"{s.ready_after_s:.1f}s" if s.ready_after_s is not None else "-"
        extra = f"  ({s.detail})" if s.detail else ""
        click.echo(f"{s.name:<10} {state:<10} {s.pid or '-':>7}  {ready:>8}  {s.address}{extra}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="faultyard")
def cli() -> None:
    """Faultyard: a fault-injection and observability testbed.

    Settings come from FAULTYARD_* environment variables (see the README),
    for example FAULTYARD_STATE_DIR, FAULTYARD_PG_PORT, FAULTYARD_APP_PORT.
    """


@cli.command()
def up() -> None:
    """Start the native stack on 127.0.0.1 and wait until every service answers."""
    stack = _stack()
    started = time.monotonic()
    states = stack.up()
    _print_states(states)
    fresh = [s for s in states if s.started]
    if fresh:
        click.echo(f"stack ready in {time.monotonic() - started:.1f}s ({len(fresh)} started)")
    else:
        click.echo("stack already running")
    click.echo(f"shop: {stack.settings.app_url}   state: {stack.state}")


@cli.command()
def down() -> None:
    """Stop every process this state folder started (and nothing else)."""
    stopped = _stack().down()
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@cli.command()
def status() -> None:
    """Show each service's health; exit 1 if any is stopped or unhealthy."""
    states = _stack(verbose=False).status()
    _print_states(states)
    if not all(s.healthy for s in states):
        sys.exit(1)


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


@cli.command()
@click.argument("service", required=False)
@click.option("-n", "--lines", default=50, show_default=True, help="How many lines to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C stops).")
@click.option("--grep", metavar="TEXT", help="Only lines containing TEXT.")
def logs(service: str | None, lines: int, follow: bool, grep: str | None) -> None:
    """Show a service's log (every service's when SERVICE is left out)."""
    stack = _stack(verbose=False)
    if service is not None and service not in stack.names():
        raise click.BadParameter(
            f"unknown service {service!r}; choose one of: {', '.join(stack.names())}",
            param_hint="SERVICE",
        )
    names = [service] if service else stack.names()
    for name in names:
        path = stack.log_file(name)
        if not path.exists():
            click.echo(f"== {name}: no log yet ({path})")
            continue
        text = tail(path, lines=lines if grep is None else 100_000).splitlines()
        if grep is not None:
            text = [line for line in text if grep in line][-lines:]
        if len(names) > 1:
            click.echo(f"== {name} ({path})")
        click.echo("\n".join(text))
    if follow:
        if service is None:
            raise click.UsageError("--follow needs a SERVICE")
        for line in _follow(stack.log_file(service), grep):
            click.echo(line)


def _admin() -> AdminClient:
    settings: StackSettings = load_stack_settings()
    shop = load_shop_settings({"state_dir": settings.state_path})
    return AdminClient(settings.app_url, shop.resolved_admin_token())


def _print_switches(switches: list[dict[str, object]]) -> None:
    for s in switches:
        click.echo(f"{s['name']:<24} {'ON (bug)' if s['on'] else 'off':<9} {s['bug']}")


@cli.command()
@click.argument("name", required=False)
@click.argument("state", required=False, type=click.Choice(["on", "off"]))
def switch(name: str | None, state: str | None) -> None:
    """List or flip the shop's bug switches.

    \b
    faultyard switch list            every switch, its state and its bug
    faultyard switch NAME on|off     turn one bug on or off in every process
    faultyard switch reset           turn every bug off
    """
    admin = _admin()
    if name in (None, "list"):
        _print_switches(admin.switches())
    elif name == "reset":
        _print_switches(admin.reset_switches())
    elif state is None:
        raise click.UsageError(f"say `faultyard switch {name} on` or `... off`")
    else:
        switches = admin.set_switch(name, state == "on")
        _print_switches([s for s in switches if s["name"] == name])


def main() -> None:
    """Run the CLI; Faultyard errors exit 2 with their message."""
    try:
        cli.main(prog_name="faultyard", standalone_mode=False)
    except FaultyardError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
