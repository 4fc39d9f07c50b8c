"""The `faultyard` command."""

from __future__ import annotations

import os
import sys

import click

from chaos.cli import (
    coverage,
    dashboard,
    drill,
    gameday,
    mcp,
    network,
    scenarios,
    settings,
    stack,
    switches,
    traces,
)
from chaos.errors import FaultyardError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="faultyard")
@click.option(
    "--target",
    type=click.Choice(["native", "compose"]),
    envvar="FAULTYARD_TARGET",
    help="The stack to act on: native (default), or compose/ started by `make compose-up`.",
)
def cli(target: str | None) -> None:
    """Faultyard: a fault-injection and observability testbed.

    Settings come from FAULTYARD_* environment variables (see the README),
    for example FAULTYARD_STATE_DIR, FAULTYARD_PG_PORT, FAULTYARD_APP_PORT.
    """
    if target:
        os.environ["FAULTYARD_TARGET"] = target  # every settings read in this run sees it


for command in (
    stack.up, stack.down, stack.status, stack.logs, stack.reload,
    switches.switch, settings.setting,
    network.proxy, network.toxic, network.reset,
    dashboard.dashboard,
    traces.traces,
    scenarios.list_scenarios, scenarios.show, scenarios.load, scenarios.scenario,
    drill.drill, coverage.coverage, gameday.gameday, mcp.mcp,
):  # fmt: skip
    cli.add_command(command)


def main() -> None:
    """Run the CLI; Faultyard errors exit 2 with their message."""
    code: int | str | None = 0
    try:
        cli.main(prog_name="faultyard", standalone_mode=False)
    except FaultyardError as exc:
        click.echo(f"error: {exc}", err=True)
        code = 2
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        code = 130
    except SystemExit as exc:  # a command that chose its exit code
        code = exc.code
    except KeyboardInterrupt:
        code = 130
        raise
    finally:
        _record_in_drill(sys.argv[1:], code if isinstance(code, int) else 1)
    if code:
        sys.exit(code)


def _record_in_drill(argv: list[str], exit_code: int) -> None:
    """Note the command in a running drill's timeline; never in the way of the command."""
    try:
        from chaos.drill.state import record_command
        from chaos.settings import load_stack_settings

        record_command(load_stack_settings(), _command_words(argv), exit_code)
    except Exception:  # a settings error is the command's to report, with its own message
        return


def _command_words(argv: list[str]) -> list[str]:
    """Return the command line without the group's own options (`--target compose`)."""
    words = list(argv)
    while words and words[0].startswith("--target"):
        words = words[1:] if "=" in words[0] else words[2:]
    return words
