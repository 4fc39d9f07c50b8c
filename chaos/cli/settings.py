"""`faultyard setting`: shop settings changed at runtime (e.g. the payment failure rate)."""

from __future__ import annotations

import json
from typing import Any

import click

from chaos.cli.common import admin_client, refuse_during_drill


def print_settings(settings: list[dict[str, Any]]) -> None:
    """Print one line per setting: name, value now, default when changed, type and range."""
    for s in settings:
        changed = f"(default {s['default']})" if s["overridden"] else "(default)"
        kind = ", ".join(filter(None, (s["type"], s["range"])))
        click.echo(f"{s['name']:<24} {s['value']!s:<8} {changed:<16} {kind:<22} {s['read_by']}")


def parse_value(text: str) -> bool | int | float | str:
    """Read a value as JSON when it is one (0.9, 5, true), else as text; the shop validates it."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, bool | int | float | str) else text


@click.command()
@click.argument("name", required=False)
@click.argument("value", required=False)
def setting(name: str | None, value: str | None) -> None:
    """List, show or change the shop's runtime settings.

    \b
    faultyard setting                 every runtime setting, its value, type and range
    faultyard setting NAME            one setting
    faultyard setting NAME VALUE      change it in every process (within a second)
    faultyard setting NAME default    put it back to its default
    faultyard setting reset           put every setting back to its default
    """
    if value is None or name == "reset":
        # Changing one setting is a remedy an on-call engineer has; listing them is not.
        refuse_during_drill("the runtime settings are hidden")
    admin = admin_client()
    if name is None:
        print_settings(admin.settings())
    elif name == "reset" and value is None:
        print_settings(admin.reset_settings())
    elif value is None:
        known = admin.settings()
        chosen = [s for s in known if s["name"] == name]
        if not chosen:
            raise click.BadParameter(
                f"unknown runtime setting {name!r}; known: "
                + ", ".join(sorted(s["name"] for s in known)),
                param_hint="NAME",
            )
        print_settings(chosen)
    elif value == "default":
        print_settings([s for s in admin.reset_setting(name) if s["name"] == name])
    else:
        print_settings(
            [s for s in admin.set_setting(name, parse_value(value)) if s["name"] == name]
        )
