"""Where each service of the compose stack listens: inside the compose network and on the host.

Host ports are the native stack's port settings (FAULTYARD_*_PORT, same defaults), so
a command reaches either stack at the same address. Inside the network each service
keeps its software's usual port; the Toxiproxy proxies keep the native proxy ports.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from chaos.settings import StackSettings

# A loopback hop into the shop's own network namespace: the admin API answers
# loopback callers only, and a published port arrives from Docker's gateway.
ADMIN_GATE_PORT = 8001
ADMIN_GATE_API_PORT = 8474
SHOP_PORT = 8000
STATE_DIR = "/var/lib/faultyard"
# Traces go over OTLP/HTTP to Jaeger; 14269 is Jaeger's admin (health) port.
JAEGER_OTLP_HTTP_PORT = 4318
JAEGER_ADMIN_PORT = 14269


class ComposeSettings(BaseSettings):
    """Host ports of what only the compose stack runs: Grafana, Jaeger's UI, Locust's UI."""

    model_config = SettingsConfigDict(env_prefix="FAULTYARD_", extra="ignore")

    grafana_port: int = Field(13000, ge=1, le=65535)
    jaeger_port: int = Field(16686, ge=1, le=65535)
    locust_port: int = Field(8089, ge=1, le=65535)


@dataclass(frozen=True)
class Port:
    """One port setting: the service that serves it, its port in the network, the host's."""

    setting: str  # a field of StackSettings or ComposeSettings, e.g. "pg_port"
    service: str  # the compose service (native services keep their native names)
    container_port: int | None  # None: the native default (the Toxiproxy proxies)
    # The port the host's port is published to, when it is not container_port.
    published_to: int | None = None

    def variable(self) -> str:
        """Return the environment variable that chooses the host port (as for the native stack)."""
        return f"FAULTYARD_{self.setting.upper()}"


PORTS = (
    Port("pg_port", "postgres", 5432),
    Port("redis_port", "redis", 6379),
    Port("toxiproxy_port", "proxy", 8474),
    Port("proxy_pg_port", "proxy", None),
    Port("proxy_redis_port", "proxy", None),
    Port("proxy_shop_port", "proxy", None),
    # The shop: the network reaches gunicorn, the host the admin gate in front of it.
    Port("app_port", "app", SHOP_PORT, published_to=ADMIN_GATE_PORT),
    Port("prometheus_port", "prometheus", 9090),
    Port("postgres_exporter_port", "postgres-exporter", 9187),
    Port("redis_exporter_port", "redis-exporter", 9121),
    Port("rq_exporter_port", "rq-exporter", 9726),
    Port("rq_dashboard_port", "rq-dashboard", 9181),
    Port("exporter_port", "exporter", 9100),
    Port("grafana_port", "grafana", 3000),
    Port("jaeger_port", "jaeger", 16686),
    Port("locust_port", "locust", 8089),
)


class Topology:
    """The compose stack's addresses, computed from the settings' defaults."""

    def __init__(self) -> None:
        # Defaults only (model_construct reads no environment): the committed files
        # must not depend on who generated them. The host picks ports at run time.
        self.native = StackSettings.model_construct()
        self.extra = ComposeSettings.model_construct()
        self.ports = {p.setting: p for p in PORTS}

    def default(self, setting: str) -> int:
        """Return a port setting's default value."""
        source = self.native if setting in StackSettings.model_fields else self.extra
        return int(getattr(source, setting))

    def container_port(self, setting: str) -> int:
        """Return the port a setting's service listens on inside the network."""
        port = self.ports[setting]
        return self.default(setting) if port.container_port is None else port.container_port

    def address(self, setting: str) -> str:
        """Return host:port of a setting's service inside the compose network."""
        return f"{self.ports[setting].service}:{self.container_port(setting)}"

    def setting_of(self, port: int) -> str:
        """Return the native port setting whose default is `port` (each default is distinct)."""
        found = [
            name
            for name in StackSettings.model_fields
            if name.endswith("_port") and self.default(name) == port
        ]
        if len(found) != 1 or found[0] not in self.ports:
            raise LookupError(
                f"no compose service serves native port {port} ({found or 'no setting'}); "
                "add it to chaos/compose/topology.py PORTS"
            )
        return found[0]

    def publish(self, service: str) -> list[str]:
        """Return a service's published ports: 127.0.0.1, host port from FAULTYARD_*_PORT."""
        return [
            f"127.0.0.1:${{{p.variable()}:-{self.default(p.setting)}}}:"
            f"{p.published_to or self.container_port(p.setting)}"
            for p in PORTS
            if p.service == service
        ]
