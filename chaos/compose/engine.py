"""Drive the compose stack with `docker compose` (or Debian's docker-compose): up and down.

Both need a Docker engine; without one they fail with a message saying so, and
what to run instead, before anything is started.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from chaos.compose import COMPOSE_FILE
from chaos.compose.topology import ComposeSettings
from chaos.errors import StackError
from chaos.settings import StackSettings

PROJECT = "faultyard"
PROBE_TIMEOUT_S = 20.0


class ComposeError(StackError):
    """docker compose is missing, no Docker engine answers, or compose failed."""


@dataclass(frozen=True)
class Compose:
    """The compose client found on this machine, bound to compose/docker-compose.yml."""

    program: list[str]  # ["docker", "compose"] or ["docker-compose"]
    env: dict[str, str]

    @property
    def v2(self) -> bool:
        """Return whether this is Compose v2 (it has `up --wait`)."""
        return self.program == ["docker", "compose"]

    def argv(self, *args: str) -> list[str]:
        """Return a compose command line for the Faultyard project."""
        return [*self.program, "-f", str(COMPOSE_FILE), "-p", PROJECT, *args]

    def run(self, *args: str) -> int:
        """Run a compose command in the foreground; return its exit code."""
        return subprocess.run(self.argv(*args), env=self.env, check=False).returncode

    def check_engine(self) -> None:
        """Raise ComposeError unless a Docker engine answers (`ps` needs one)."""
        try:
            probe = subprocess.run(
                self.argv("ps", "-q"),
                env=self.env,
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ComposeError(
                f"no Docker engine answered within {PROBE_TIMEOUT_S:.0f}s"
                f" ({' '.join(self.program)} ps)"
            ) from None
        if probe.returncode != 0:
            lines = (probe.stderr or probe.stdout).strip().splitlines()
            reason = lines[-1] if lines else f"exit code {probe.returncode}"
            raise ComposeError(
                f"no Docker engine answers ({' '.join(self.program)}: {reason}); the compose "
                "stack needs a running Docker engine. Without one, run the native stack: `make up`"
            )


def find_compose(env: dict[str, str] | None = None) -> Compose:
    """Return `docker compose` when the plugin is there, else docker-compose; or ComposeError."""
    env = dict(os.environ if env is None else env)
    path = env.get("PATH")
    docker = shutil.which("docker", path=path)
    if docker:
        plugin = subprocess.run(
            [docker, "compose", "version"], env=env, capture_output=True, check=False
        )
        if plugin.returncode == 0:
            return Compose(["docker", "compose"], env)
    if shutil.which("docker-compose", path=path):
        return Compose(["docker-compose"], env)
    raise ComposeError(
        "neither `docker compose` nor `docker-compose` is installed (`make setup` installs "
        "Debian's docker-compose; a Docker engine is needed as well)"
    )


def ensure_token(settings: StackSettings) -> Path:
    """Write the compose stack's admin token to its state folder once; return the file."""
    path = settings.state_path / "admin-token"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24) + "\n")
    return path


def compose_for(settings: StackSettings) -> Compose:
    """Return the compose client, its environment pointing at the state folder's token."""
    compose = find_compose()
    token = settings.state_path / "admin-token"
    return Compose(compose.program, {**compose.env, "FAULTYARD_COMPOSE_TOKEN_FILE": str(token)})


def urls(settings: StackSettings, extra: ComposeSettings) -> dict[str, str]:
    """Return what a user opens once the compose stack is up, by name."""
    return {
        "grafana": f"http://127.0.0.1:{extra.grafana_port}",
        "prometheus": settings.prometheus_url,
        "jaeger": f"http://127.0.0.1:{extra.jaeger_port}",
        "locust": f"http://127.0.0.1:{extra.locust_port}",
        "shop": settings.shop_url,
        "rq-dashboard": settings.rq_dashboard_url,
        "toxiproxy": settings.toxiproxy_api_url,
    }


def up(settings: StackSettings) -> int:
    """Build and start the compose stack; with Compose v2, wait until every service is healthy."""
    compose = compose_for(settings)
    compose.check_engine()
    ensure_token(settings)
    return compose.run("up", "-d", "--build", *(["--wait"] if compose.v2 else []))


def down(settings: StackSettings, *, volumes: bool = False) -> int:
    """Stop and remove the compose stack's containers (and its volumes with `volumes`)."""
    compose = compose_for(settings)
    compose.check_engine()
    return compose.run("down", *(["--volumes"] if volumes else []))
