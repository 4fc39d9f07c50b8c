"""`faultyard proxy|toxic|reset`: Toxiproxy in the data path, and undoing every fault."""

from __future__ import annotations

from pathlib import Path

import click

from chaos.cli.common import current_stack, refuse_during_drill, toxiproxy_client
from chaos.cli.stack import print_proxies
from chaos.durations import DurationError, parse_seconds
from chaos.errors import FaultyardError
from chaos.faults.toxic import Toxic, unknown_attributes
from chaos.proxy.toxics import REGISTRY


def parse_duration_ms(text: str) -> int:
    """Parse "30s", "500ms", "2m" or a plain number of seconds into milliseconds."""
    try:
        return int(parse_seconds(text) * 1000)
    except DurationError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group(invoke_without_command=True)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="API listen address (loopback)."
)
@click.option("--port", default=8474, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Proxies to create, in Toxiproxy's -config JSON format.",
)
@click.option(
    "--hide-toxics-while",
    type=click.Path(dir_okay=False, path_type=Path),
    help="While this file exists (a drill runs), /metrics leaves out the toxics.",
)
@click.pass_context
def proxy(
    ctx: click.Context, host: str, port: int, config: Path | None, hide_toxics_while: Path | None
) -> None:
    """Run the embedded Toxiproxy-compatible server, or take a proxy down or up.

    \b
    faultyard proxy [--host H] [--port P] [--config proxies.json]   serve the API
    faultyard proxy down NAME                                        disable a proxy
    faultyard proxy up NAME                                          enable it again
    """
    if ctx.invoked_subcommand is not None:
        return
    from chaos.proxy.server import run

    run(host, port, config, hide_toxics_while)


@proxy.command("down")
@click.argument("name")
def proxy_down(name: str) -> None:
    """Disable a proxy: close its connections and refuse new ones."""
    refuse_during_drill("the proxies stand for the network and are hidden")
    toxiproxy_client().set_enabled(name, False)
    click.echo(f"proxy {name} is down")


@proxy.command("up")
@click.argument("name")
def proxy_up(name: str) -> None:
    """Enable a proxy again."""
    refuse_during_drill("the proxies stand for the network and are hidden")
    toxiproxy_client().set_enabled(name, True)
    click.echo(f"proxy {name} is up")


@click.group()
def toxic() -> None:
    """Add, list and remove toxics on the stack's proxies (postgres, redis, shop)."""
    refuse_during_drill("the proxies stand for the network, and their toxics are hidden")


@toxic.command("add")
@click.argument("proxy_name", metavar="PROXY")
@click.argument("type_name", metavar="TYPE", type=click.Choice(sorted(REGISTRY)))
@click.option(
    "--stream",
    type=click.Choice(["downstream", "upstream"]),
    default="downstream",
    show_default=True,
)
@click.option(
    "--toxicity",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="Share of connections it applies to.",
)
@click.option(
    "--per-request",
    is_flag=True,
    help="Roll toxicity per request/response turn, not per connection (extension).",
)
@click.option(
    "--duration", help="Remove the toxic by itself after this long: 30s, 500ms, 2m (extension)."
)
@click.option("--name", help="Toxic name [default: TYPE_STREAM].")
@click.option("--latency", type=click.IntRange(min=0), help="latency: delay in ms.")
@click.option("--jitter", type=click.IntRange(min=0), help="latency: ± ms.")
@click.option("--rate", type=click.IntRange(min=0), help="bandwidth: KB/s.")
@click.option(
    "--delay", type=click.IntRange(min=0), help="slow_close: ms; slicer: µs between slices."
)
@click.option(
    "--timeout",
    type=click.IntRange(min=0),
    help="timeout / reset_peer / idle_timeout (extension): ms.",
)
@click.option(
    "--bytes", "bytes_", type=click.IntRange(min=0), help="limit_data: bytes before closing."
)
@click.option("--average-size", type=click.IntRange(min=0), help="slicer: bytes per slice.")
@click.option("--size-variation", type=click.IntRange(min=0), help="slicer: ± bytes.")
def toxic_add(
    proxy_name: str,
    type_name: str,
    stream: str,
    toxicity: float,
    per_request: bool,
    duration: str | None,
    name: str | None,
    **values: int | None,
) -> None:
    """Add a toxic to PROXY, e.g. `toxic add postgres latency --latency 300 --jitter 50`."""
    given = {key.rstrip("_"): v for key, v in values.items() if v is not None}
    wrong = unknown_attributes(type_name, given)
    if wrong:
        allowed = REGISTRY[type_name].defaults
        raise click.UsageError(
            f"{type_name} takes {', '.join('--' + a.replace('_', '-') for a in allowed)}; "
            f"not {', '.join('--' + w.replace('_', '-') for w in wrong)}"
        )
    added = toxiproxy_client().add(
        Toxic(
            proxy=proxy_name,
            type=type_name,
            attributes=given,
            stream=stream,  # type: ignore[arg-type]
            toxicity=toxicity,
            name=name,
            duration_ms=parse_duration_ms(duration) if duration else None,
            toxicity_per="request" if per_request else None,
        )
    )
    extra = f", removed after {duration}" if duration else ""
    click.echo(
        f"added {added.name} to {proxy_name}: {added.type} {added.stream} {added.attributes}{extra}"
    )


@toxic.command("list")
def toxic_list() -> None:
    """List every proxy and its toxics."""
    print_proxies(toxiproxy_client())


@toxic.command("remove")
@click.argument("name")
@click.option(
    "--proxy", "proxy_name", help="The proxy holding it, when several have a toxic of that name."
)
def toxic_remove(name: str, proxy_name: str | None) -> None:
    """Remove a toxic by name."""
    client = toxiproxy_client()
    holders = [p.name for p in client.proxies().values() if any(t.name == name for t in p.toxics)]
    if proxy_name:
        holders = [proxy_name]
    if not holders:
        raise FaultyardError(f"no proxy has a toxic named {name!r} (see `faultyard toxic list`)")
    if len(holders) > 1:
        raise click.UsageError(f"{', '.join(holders)} each have {name!r}: say which with --proxy")
    client.remove_toxic(holders[0], name)
    click.echo(f"removed {name} from {holders[0]}")


@click.command()
def reset() -> None:
    """Undo every fault: toxics, disabled proxies, switches, settings, indexes, processes.

    A paused service is continued, a killed or terminated one started again.

    First what a scenario run or a drill killed mid-way left behind
    (STATE/scenario-active.json), such as a paused service. Refused while a drill runs.
    """
    from chaos.drill.state import hide_listings, in_progress
    from chaos.faults.injector import Injector
    from chaos.scenarios.cleanup import undo_crashed_run

    stack = current_stack(verbose=False)
    if in_progress(stack.settings) is not None:
        raise click.ClickException(
            "a drill is running: on call there is no reset button. "
            "`faultyard drill give-up` ends it and rolls its fault back"
        )
    hide_listings(stack.settings, False)  # what a killed drill left
    for line in undo_crashed_run(stack):
        click.echo(f"left over: {line}")
    injector = Injector(stack)
    injector.toxiproxy.reset()
    click.echo("proxies: every toxic removed, every proxy enabled")
    click.echo(f"switches: {injector.reset_switches()}")
    click.echo(f"settings: {injector.reset_setting()}")
    for line in injector.sweep():  # the other kinds: a dropped index, a stopped process
        click.echo(f"left over: {line}")
