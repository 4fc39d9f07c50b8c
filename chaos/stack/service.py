"""What the manager needs to know about a service (one declarative record), and what it reports."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass

from chaos.errors import MissingDependencyError
from chaos.settings import StackSettings


def program(name: str, package: str) -> str:
    """Return the path of an installed program, or say which Debian package `make setup` adds."""
    path = shutil.which(name)
    if path is None:
        raise MissingDependencyError(
            f"{name} not found; run `make setup` (installs the Debian package {package})"
        )
    return path


class NotReady(Exception):
    """A readiness check failed; the message says what it saw."""


@dataclass(frozen=True)
class Service:
    """A process of the native stack.

    `stage` orders start-up (lower first, `down` goes in reverse); services of
    one stage start together. `argv` None means an external service: checked,
    never started or stopped. `ready` raises NotReady until the service really
    answers. `ports` are (port, setting) pairs checked free before a start.
    `prepare` runs before start, `after_ready` once it answers (both idempotent).
    `shop` marks processes running the shop's code: they get the shop's environment.
    `reload_signal` asks the running service for a graceful restart (gunicorn: SIGHUP
    starts new workers and retires the old ones); None means it cannot be reloaded.
    """

    name: str
    stage: int
    argv: Callable[[StackSettings], list[str]] | None
    ready: Callable[[StackSettings, int], None]
    address: Callable[[StackSettings], str]
    ports: Callable[[StackSettings], list[tuple[int, str]]] = lambda _s: []
    run_as: Callable[[], str | None] = lambda: None
    stop_signal: int = signal.SIGTERM
    prepare: Callable[[StackSettings], None] | None = None
    after_ready: Callable[[StackSettings], None] | None = None
    shop: bool = False
    reload_signal: int | None = None


@dataclass(frozen=True)
class ServiceState:
    """One service as `up` and `status` report it."""

    name: str
    running: bool
    healthy: bool
    address: str
    pid: int | None = None
    detail: str = ""
    ready_after_s: float | None = None
    started: bool = False
