"""What a fault acts through: the stack, its Toxiproxy API, and the shop's admin API and files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from chaos.admin_client import AdminClient
from chaos.errors import AdminApiError
from chaos.toxiproxy import ToxiproxyClient
from target_app.public import load_settings as load_shop_settings

if TYPE_CHECKING:
    from chaos.stack.manager import Stack

Result = TypeVar("Result")


@dataclass(frozen=True)
class FaultContext:
    """The stack a fault is applied to, and the clients and files that reach it."""

    stack: Stack
    toxiproxy: ToxiproxyClient
    admin: AdminClient
    #: The shop's bug switch and runtime settings files (every shop process reads them).
    switches_file: Path
    settings_file: Path
    #: The compose shop keeps its files in a Docker volume: this machine's copies are not its own.
    files_are_the_shops: bool

    @classmethod
    def for_stack(cls, stack: Stack) -> FaultContext:
        """Return the context of one stack (native or compose), from its settings."""
        shop = load_shop_settings({"state_dir": stack.settings.state_path})
        return cls(
            stack=stack,
            toxiproxy=ToxiproxyClient(stack.settings.toxiproxy_api_url),
            admin=AdminClient(stack.settings.app_url, shop.resolved_admin_token()),
            switches_file=shop.switches_file,
            settings_file=shop.runtime_settings_file,
            files_are_the_shops=stack.settings.target == "native",
        )

    def through_shop(
        self, what: str, api: Callable[[], Result], files: Callable[[], Result]
    ) -> tuple[Result, bool]:
        """Return `api()`, or `files()` when the shop does not answer; and whether it was the files.

        The files are the native shop's own (every process of it reads them); the compose
        shop's are in its Docker volume, so against compose there is no fallback.
        """
        try:
            return api(), False
        except AdminApiError:
            if not self.files_are_the_shops:
                raise AdminApiError(
                    f"the compose shop does not answer, and its files are in its Docker volume: "
                    f"cannot {what}; start the shop (`make compose-up`) and try again"
                ) from None
            return files(), True
