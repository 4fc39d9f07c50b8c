"""The `faultyard` command."""

from __future__ import annotations

import sys

import click

from chaos.cli import network, stack, switches
from chaos.errors import FaultyardError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="faultyard")
def cli() -> None:
    """Faultyard: a fault-injection and observability testbed.

    Settings come from FAULTYARD_* environment variables (see the README),
    for example FAULTYARD_STATE_DIR, FAULTYARD_PG_PORT, FAULTYARD_APP_PORT.
    """


for command in (
    stack.up, stack.down, stack.status, stack.logs,
    switches.switch,
    network.proxy, network.toxic, network.reset,
):  # fmt: skip
    cli.add_command(command)


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
