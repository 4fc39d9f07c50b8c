"""What the CLI's commands share: the stack of the current settings, and its clients."""

from __future__ import annotations

import click

from chaos.admin_client import AdminClient
from chaos.settings import load_stack_settings
from chaos.stack.manager import Stack
from chaos.toxiproxy import ToxiproxyClient
from target_app.config import load_settings as load_shop_settings


def current_stack(*, verbose: bool = True) -> Stack:
    """Return the stack the environment's settings describe."""
    progress = (lambda m: click.echo(f"  {m}", err=True)) if verbose else (lambda _m: None)
    return Stack(load_stack_settings(), progress=progress)


def admin_client() -> AdminClient:
    settings = load_stack_settings()
    shop = load_shop_settings({"state_dir": settings.state_path})
    return AdminClient(settings.app_url, shop.resolved_admin_token())


def toxiproxy_client() -> ToxiproxyClient:
    return ToxiproxyClient(load_stack_settings().toxiproxy_api_url)
