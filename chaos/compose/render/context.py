"""What every generated service draws on: the topology, the native services, shared helpers."""

from __future__ import annotations

import signal
from typing import Any

from chaos.compose.topology import SHOP_PORT, Topology
from chaos.settings import StackSettings
from chaos.stack.services import services as native_services

ALL_INTERFACES = "0.0.0.0"
# Docker's health checks: often enough for a quick start, rarely enough for two shared cores.
CHECK_EVERY = {"interval": "5s", "timeout": "3s", "retries": 12, "start_period": "60s"}
# The worker, scheduler and relay checks load RQ (half a second of CPU): less often.
SLOW_CHECK_EVERY = {**CHECK_EVERY, "interval": "30s", "start_period": "30s"}


def at(**values: Any) -> StackSettings:
    """Return the default settings as seen from inside the network (hosts are service names)."""
    return StackSettings.model_construct(**values)


def shop_build(target: str = "shop") -> dict[str, str]:
    """Return the build section of an image built from compose/Dockerfile."""
    return {"context": "..", "dockerfile": "compose/Dockerfile", "target": target}


def healthy(*names: str) -> dict[str, dict[str, str]]:
    """Return depends_on entries waiting for each named service to be healthy."""
    return {n: {"condition": "service_healthy"} for n in names}


def python_check(*args: str) -> list[str]:
    """Return a health check run by chaos.compose.health in the shop's image."""
    return ["python", "-m", "chaos.compose.health", *args]


def wget(port: int, path: str) -> dict[str, Any]:
    """Return a health check fetching a path on the container's own port with wget."""
    return {
        "test": ["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}{path}"],
        **CHECK_EVERY,
    }


class RenderContext:
    """The compose stack's addresses and the native services, as the service builders need them."""

    def __init__(self) -> None:
        self.topology = Topology()
        self.native = self.topology.native
        self.port = self.topology.container_port
        self.publish = self.topology.publish
        # The native services, their command lines built for a container (all interfaces).
        self.inside = at(host=ALL_INTERFACES, app_port=SHOP_PORT)
        self.services = {s.name: s for s in native_services(self.inside)}

    def direct_database_url(self) -> str:
        """Return PostgreSQL's URL inside the network, not through the proxy."""
        return at(host="postgres", pg_port=self.port("pg_port")).database_url

    def direct_redis_url(self) -> str:
        """Return Redis's URL inside the network, not through the proxy."""
        return at(host="redis", redis_port=self.port("redis_port")).redis_url

    def command(self, name: str) -> list[str]:
        """Return a native shop service's command line, run by the image's python."""
        argv = self.services[name].argv
        assert argv is not None
        return ["python", *argv(self.inside)[1:]]

    def stop_signal(self, name: str) -> str:
        """Return the name of the signal that stops a native service."""
        return signal.Signals(self.services[name].stop_signal).name

    def seed_products(self) -> dict[str, str]:
        """Return the environment choosing how many products are seeded (the native default)."""
        return {
            "FAULTYARD_SEED_PRODUCTS": f"${{FAULTYARD_SEED_PRODUCTS:-{self.native.seed_products}}}"
        }
