"""The `faultyard` command starts fast: a command's module is imported only when it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from chaos.cli import COMMANDS, SHORT_HELPS, cli

#: What a group's --help must not load (each costs tens of milliseconds, some hundreds).
HEAVY = {"redis", "rq", "psycopg", "requests", "sqlalchemy", "psutil", "pydantic_settings", "rich"}

#: Run in a fresh interpreter: `faultyard ARGS`, then print the modules it loaded.
PROBE = """
import json, sys
from chaos.cli import main
sys.argv = ["faultyard", *sys.argv[1:]]
main()
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _modules_loaded_by(tmp_path: Path, *args: str) -> set[str]:
    env = {**os.environ, "FAULTYARD_STATE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


def test_every_command_has_a_short_help() -> None:
    assert COMMANDS.keys() == SHORT_HELPS.keys()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_static_short_help_is_the_commands_own(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, click.Command)
    assert command.name == name
    # No limit: the whole first sentence, which --help then shortens to its column.
    assert SHORT_HELPS[name] == command.get_short_help_str(limit=10_000)


def test_help_lists_the_commands_as_an_eager_group_would() -> None:
    """The lazy listing matches click's own, which imports every command for its help."""
    ctx = click.Context(cli, info_name="faultyard")
    lazy, eager = click.HelpFormatter(width=80), click.HelpFormatter(width=80)
    cli.format_commands(ctx, lazy)
    click.Group.format_commands(cli, ctx, eager)
    assert lazy.getvalue() == eager.getvalue()
    assert "  up " in lazy.getvalue()


def test_help_imports_no_command_and_nothing_heavy(tmp_path: Path) -> None:
    loaded = _modules_loaded_by(tmp_path, "--help")
    commands = {path.partition(":")[0] for path in COMMANDS.values()}
    assert sorted(loaded & commands) == []
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY) == []
    assert "chaos.settings" not in loaded  # nor the drill's record of what ran


def test_a_command_imports_its_own_module_only(tmp_path: Path) -> None:
    loaded = _modules_loaded_by(tmp_path, "show", "--help")
    assert "chaos.cli.scenarios" in loaded
    others = {path.partition(":")[0] for path in COMMANDS.values()} - {"chaos.cli.scenarios"}
    assert sorted(loaded & others) == []


def test_read_only_commands_load_no_database_driver(tmp_path: Path) -> None:
    """`list` and `show` read the catalogue: neither psycopg, nor redis, nor requests."""
    loaded = _modules_loaded_by(tmp_path, "list")
    drivers = {"redis", "rq", "psycopg", "requests", "sqlalchemy"}
    assert sorted(m for m in loaded if m.split(".")[0] in drivers) == []
