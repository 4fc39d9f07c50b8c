"""`faultyard switch`: the shop's bug switches."""

from __future__ import annotations

import click

from chaos.cli.common import admin_client, refuse_during_drill


def print_switches(switches: list[dict[str, object]]) -> None:
    for s in switches:
        click.echo(f"{s['name']:<24} {'ON (bug)' if s['on'] else 'off':<9} {s['bug']}")


@click.command()
@click.argument("name", required=False)
@click.argument("state", required=False, type=click.Choice(["on", "off"]))
def switch(name: str | None, state: str | None) -> None:
    """List or flip the shop's bug switches.

    \b
    faultyard switch list            every switch, its state and its bug
    faultyard switch NAME on|off     turn one bug on or off in every process
    faultyard switch reset           turn every bug off
    """
    refuse_during_drill("the bug switches are hidden")
    admin = admin_client()
    if name in (None, "list"):
        print_switches(admin.switches())
    elif name == "reset":
        print_switches(admin.reset_switches())
    elif state is None:
        raise click.UsageError(f"say `faultyard switch {name} on` or `... off`")
    else:
        switches = admin.set_switch(name, state == "on")
        print_switches([s for s in switches if s["name"] == name])
