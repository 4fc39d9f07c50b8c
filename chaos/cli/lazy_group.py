"""A click group that imports a subcommand's module only when that subcommand runs.

Click's documented pattern (Advanced Patterns, "Lazily Loading Subcommands"), plus
each command's one-line help given statically, so that the group's --help lists
every command without importing any of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click


class LazyGroup(click.Group):
    """A group whose subcommands are "module.path:attribute" strings, imported on first use."""

    def __init__(
        self,
        *args: Any,
        lazy_subcommands: Mapping[str, str],
        short_helps: Mapping[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands)
        self.short_helps = dict(short_helps)
        missing = self.lazy_subcommands.keys() ^ self.short_helps.keys()
        if missing:
            raise ValueError(f"lazy commands and short helps differ: {sorted(missing)}")

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, cmd_name: str) -> click.Command:
        module_name, _, attribute = self.lazy_subcommands[cmd_name].partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_subcommands[cmd_name]} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands as click.Group does, a lazy one by its static help: no import."""
        commands: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            if name in self.short_helps:
                # A stand-in: click shortens its help to the column exactly as the real one's.
                commands.append((name, click.Command(name, help=self.short_helps[name])))
            elif (command := self.get_command(ctx, name)) is not None and not command.hidden:
                commands.append((name, command))
        if not commands:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in commands)
        with formatter.section("Commands"):
            formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in commands])
