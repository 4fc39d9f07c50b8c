"""The `faultyard` command."""

from __future__ import annotations

import os
import sys

import click

from chaos.cli.lazy_group import LazyGroup
from chaos.errors import FaultyardError

#: Each command and where it lives, imported only when the command runs.
COMMANDS = {
    "up": "chaos.cli.stack:up",
    "down": "chaos.cli.stack:down",
    "status": "chaos.cli.stack:status",
    "logs": "chaos.cli.stack:logs",
    "reload": "chaos.cli.stack:reload",
    "switch": "chaos.cli.switches:switch",
    "setting": "chaos.cli.settings:setting",
    "proxy": "chaos.cli.network:proxy",
    "toxic": "chaos.cli.network:toxic",
    "reset": "chaos.cli.network:reset",
    "kill": "chaos.cli.processes:kill",
    "pause": "chaos.cli.processes:pause",
    "resume": "chaos.cli.processes:resume",
    "term": "chaos.cli.processes:term",
    "dashboard": "chaos.cli.dashboard:dashboard",
    "traces": "chaos.cli.traces:traces",
    "list": "chaos.cli.scenarios:list_scenarios",
    "show": "chaos.cli.scenarios:show",
    "load": "chaos.cli.scenarios:load",
    "scenario": "chaos.cli.scenarios:scenario",
    "drill": "chaos.cli.drill:drill",
    "coverage": "chaos.cli.coverage:coverage",
    "gameday": "chaos.cli.gameday:gameday",
    "mcp": "chaos.cli.mcp:mcp",
}

#: Each command's short help (the first sentence of its docstring), for `faultyard --help`
#: to list the commands without importing them; tests/chaos/test_cli_startup.py holds
#: it to the commands' own.
SHORT_HELPS = {
    "up": "Start the native stack on 127.0.0.1 and wait until every service answers.",
    "down": "Stop every process this state folder started (and nothing else).",
    "status": "Show each service's health and the proxies' toxics; exit 1 if a service is down.",
    "logs": "Show a service's log (every service's when SERVICE is left out).",
    "reload": "Restart SERVICE gracefully (app: new gunicorn workers, the old ones finish and leave).",
    "switch": "List or flip the shop's bug switches.",
    "setting": "List, show or change the shop's runtime settings.",
    "proxy": "Run the embedded Toxiproxy-compatible server, or take a proxy down or up.",
    "toxic": "Add, list and remove toxics on the stack's proxies (postgres, redis, shop).",
    "reset": "Undo every fault: toxics, disabled proxies, switches, settings, indexes, processes.",
    "kill": "Kill SERVICE with SIGKILL, its whole process tree (a crash, the OOM killer).",
    "pause": "Pause SERVICE with SIGSTOP, its whole process tree (a hung process, a long GC pause).",
    "resume": "Continue a paused SERVICE (SIGCONT to its whole process tree).",
    "term": "Send SERVICE a deploy's SIGTERM (its main process): it shuts down the way it is built to.",
    "dashboard": "Render the Grafana dashboards (or only NAME) to PNG, fault windows shaded red.",
    "traces": "Show the slowest traces as span trees with durations (ms) and errors; no Jaeger needed.",
    "list": "List the scenarios: name, difficulty, title and where each came from.",
    "show": "Show a scenario: its page, faults, probes and diagnosis guide.",
    "load": "Drive shoppers at the running stack with Locust: its web UI on 127.0.0.1, or headless.",
    "scenario": "Run a scenario end to end: baseline, inject under load, observe, roll back, report.",
    "drill": "Practise on call: a hidden fault (or none), a page, and a graded answer.",
    "coverage": "Inject each scenario's faults under its load and list the alerts that fire.",
    "gameday": "Inject a seeded random schedule of faults under load; report the alerts' coverage.",
    "mcp": "Serve the drill to an AI agent over MCP on stdin/stdout (an MCP client starts it).",
}


@click.group(
    cls=LazyGroup,
    lazy_subcommands=COMMANDS,
    short_helps=SHORT_HELPS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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
    words = _command_words(argv)
    if not words or words[0] == "drill" or {"-h", "--help"} & set(words):
        return  # record_command leaves these out too: no settings and drill state to load for help
    try:
        from chaos.drill.state import record_command
        from chaos.settings import load_stack_settings

        record_command(load_stack_settings(), words, exit_code)
    except Exception:  # a settings error is the command's to report, with its own message
        return


def _command_words(argv: list[str]) -> list[str]:
    """Return the command line without the group's own options (`--target compose`)."""
    words = list(argv)
    while words and words[0].startswith("--target"):
        words = words[1:] if "=" in words[0] else words[2:]
    return words
