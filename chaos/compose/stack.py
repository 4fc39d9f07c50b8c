"""The compose stack as the CLI sees it: the same services, checked, never started or stopped.

`faultyard --target compose` (or FAULTYARD_TARGET=compose) hands commands this
stack instead of the native one. Its services are external (Docker runs them):
`status` and a scenario's preflight check each one through its host port, and
anything that would start, stop or signal a process says what to run instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chaos.admin_client import AdminClient
from chaos.compose.health import (
    Unhealthy,
    http_ok,
    relay_beating,
    scheduler_registered,
    worker_registered,
)
from chaos.compose.topology import ComposeSettings
from chaos.errors import AdminApiError, StackError
from chaos.settings import StackSettings
from chaos.stack.manager import Stack
from chaos.stack.process import ProcessRecord
from chaos.stack.service import NotReady, Service, ServiceState
from chaos.stack.services import services as native_services

COMPOSE_UP = "make compose-up"
COMPOSE_DOWN = "make compose-down"
COMPOSE_RESTART = "docker compose -f compose/docker-compose.yml -p faultyard restart"


def _by_name(native: Service, settings: StackSettings) -> Callable[[str], None] | None:
    """Return the PID-free check of a shop process (given the Redis URL), or None."""
    if native.name.startswith("worker-") and native.argv is not None:
        worker_name = native.argv(settings)[-1]  # the RQ name the native stack gives it
        return lambda redis_url: worker_registered(redis_url, worker_name)
    return {"scheduler": scheduler_registered, "relay": relay_beating}.get(native.name)


def _compose_ready(native: Service, settings: StackSettings) -> Service:
    """Return the native service as an external one: Docker runs it, faultyard checks it."""
    check = _by_name(native, settings)

    def ready(s: StackSettings, pid: int) -> None:
        if check is None:
            native.ready(s, pid)
            return
        try:
            check(s.redis_url)
        except Unhealthy as exc:
            raise NotReady(str(exc)) from None

    return Service(
        name=native.name, stage=native.stage, argv=None, ready=ready, address=native.address
    )


def _ui(name: str, url: str) -> Service:
    def ready(_s: StackSettings, _pid: int) -> None:
        try:
            http_ok(url)
        except Unhealthy as exc:
            raise NotReady(str(exc)) from None

    return Service(name=name, stage=2, argv=None, ready=ready, address=lambda _s: url)


def compose_services(settings: StackSettings) -> list[Service]:
    """Return the native services (by their names) plus what only compose runs."""
    extra = ComposeSettings()
    return [
        *(_compose_ready(s, settings) for s in native_services(settings)),
        _ui("grafana", f"http://127.0.0.1:{extra.grafana_port}/api/health"),
        _ui("jaeger", f"http://127.0.0.1:{extra.jaeger_port}/"),
        _ui("locust", f"http://127.0.0.1:{extra.locust_port}/"),
    ]


class ComposeStack(Stack):
    """The compose stack of compose/docker-compose.yml, reached through its host ports."""

    def __init__(self, settings: StackSettings, **kwargs: object) -> None:
        super().__init__(settings, compose_services(settings), **kwargs)  # type: ignore[arg-type]

    def up(self) -> list[ServiceState]:
        """Check every service answers (Docker starts them); StackError naming any that does not."""
        self._token()
        states = self.status()
        sick = [s for s in states if not s.healthy]
        if sick:
            names = ", ".join(f"{s.name} ({s.detail or 'down'})" for s in sick)
            raise StackError(f"compose stack not healthy: {names}; start it with `{COMPOSE_UP}`")
        return states

    def down(self) -> list[str]:
        """Refuse: Docker stops the compose stack."""
        raise StackError(f"the compose stack is stopped with `{COMPOSE_DOWN}`, not by faultyard")

    def reload(self, name: str) -> ServiceState:
        """Reload the shop gracefully through its admin API; refuse any other service.

        The shop's gunicorn master gets SIGHUP (from one of its workers, the only
        process of the container the API reaches), starts new workers and retires
        the old ones. Done when the master (as a worker reports it) has none of the
        old workers left: what they held, such as leaked connections, went with them.
        """
        if name != "app":
            raise StackError(
                f"faultyard reloads only the compose shop (app); for {name}, run "
                f"`{COMPOSE_RESTART} {name}`"
            )
        admin = AdminClient(self.settings.app_url, self._token())
        started = time.monotonic()
        old = set(admin.workers()["workers"])
        master = admin.reload()["master_pid"]
        deadline = started + self.settings.stop_timeout_s + self.settings.start_timeout_s
        while True:
            try:
                workers = set(admin.workers()["workers"])
                if workers and not workers & old:
                    break
            except AdminApiError:  # between workers: no one listens for a moment
                pass
            if time.monotonic() > deadline:
                raise StackError(
                    f"app: old workers still run {time.monotonic() - started:.0f}s after the reload"
                )
            time.sleep(0.1)
        return ServiceState(
            name="app",
            running=True,
            healthy=True,
            address=self.settings.app_url,
            detail=f"SIGHUP to gunicorn master (pid {master} in its container) via the admin API; "
            f"{len(old)} old workers retired",
            ready_after_s=round(time.monotonic() - started, 1),
        )

    def _token(self) -> str:
        try:
            return (self.state / "admin-token").read_text().strip()
        except FileNotFoundError:
            raise StackError(
                f"no admin token in {self.state}: the compose stack is not up; start it with "
                f"`{COMPOSE_UP}`"
            ) from None

    def running(self, name: str) -> ProcessRecord | None:
        """Return None: compose services are not this machine's processes to signal."""
        return None
