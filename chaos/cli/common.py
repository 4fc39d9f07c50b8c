"""What the CLI's commands share: the stack of the current settings, and its clients."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from chaos.errors import StackError
from chaos.settings import load_stack_settings
from target_app.public import ShopSettings
from target_app.public import load_settings as load_shop_settings

if TYPE_CHECKING:
    from chaos.admin_client import AdminClient
    from chaos.stack.manager import Stack
    from chaos.toxiproxy import ToxiproxyClient

#: How to reach the compose stack's containers (the project `make compose-up` starts).
COMPOSE_CLI = "docker compose -f compose/docker-compose.yml -p faultyard"


def current_stack(*, verbose: bool = True) -> Stack:
    """Return the stack the environment's settings describe (native, or compose/)."""
    progress = (lambda m: click.echo(f"  {m}", err=True)) if verbose else (lambda _m: None)
    settings = load_stack_settings()
    if settings.target == "compose":
        from chaos.compose.stack import ComposeStack

        return ComposeStack(settings, progress=progress)
    from chaos.stack.manager import Stack  # its services' health checks load psycopg, redis, rq

    return Stack(settings, progress=progress)


def native_only(command: str, instead: str) -> None:
    """Refuse a command that starts, stops or reads native processes when the target is compose."""
    if load_stack_settings().target == "compose":
        raise StackError(f"`faultyard {command}` acts on the native stack; for compose, {instead}")


def shop_settings() -> ShopSettings:
    """Return the shop's settings for the stack's state folder (switch file, admin token)."""
    return load_shop_settings({"state_dir": load_stack_settings().state_path})


def admin_client() -> AdminClient:
    from chaos.admin_client import AdminClient

    return AdminClient(load_stack_settings().app_url, shop_settings().resolved_admin_token())


def toxiproxy_client() -> ToxiproxyClient:
    from chaos.toxiproxy import ToxiproxyClient

    return ToxiproxyClient(load_stack_settings().toxiproxy_api_url)


def refuse_during_drill(what: str) -> None:
    """Refuse a command that would show (or change) the lab's machinery while a drill runs."""
    from chaos.drill.state import in_progress

    if in_progress(load_stack_settings()) is not None:
        raise click.ClickException(
            f"{what} while a drill runs: on call nobody can list the bugs that are switched "
            "on. `faultyard drill give-up` ends the drill and reveals it all"
        )
