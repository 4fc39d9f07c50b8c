"""Every setting of the native stack, read from FAULTYARD_* environment variables."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chaos.errors import ConfigError

#: The state folder of `FAULTYARD_TARGET=compose` (the compose stack's admin token lives there).
COMPOSE_STATE_DIR = Path(".faultyard-compose")


def libpq_url(database_url: str) -> str:
    """Return a stack database URL (SQLAlchemy's `postgresql+psycopg://`) as libpq takes it."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


class StackSettings(BaseSettings):
    """Where the stack lives and listens; the CLI takes its defaults from here."""

    model_config = SettingsConfigDict(env_prefix="FAULTYARD_", extra="ignore")

    # Which stack the commands act on: the native one, or compose/ (started by `make compose-up`).
    target: Literal["native", "compose"] = "native"
    state_dir: Path = Path(".faultyard")
    host: str = "127.0.0.1"
    # Defaults stay clear of a system PostgreSQL (5432) and Redis (6379).
    pg_port: int = Field(15432, ge=1, le=65535)
    redis_port: int = Field(16379, ge=1, le=65535)
    app_port: int = Field(18000, ge=1, le=65535)
    # The Toxiproxy API and the proxies the shop and the load go through.
    toxiproxy_port: int = Field(18474, ge=1, le=65535)
    proxy_pg_port: int = Field(25432, ge=1, le=65535)
    proxy_redis_port: int = Field(26379, ge=1, le=65535)
    proxy_shop_port: int = Field(28000, ge=1, le=65535)
    # Monitoring: Prometheus, the standard exporters, rq-dashboard.
    prometheus_port: int = Field(19090, ge=1, le=65535)
    postgres_exporter_port: int = Field(19187, ge=1, le=65535)
    redis_exporter_port: int = Field(19121, ge=1, le=65535)
    rq_exporter_port: int = Field(19726, ge=1, le=65535)
    rq_dashboard_port: int = Field(19181, ge=1, le=65535)
    # The console: the dashboards live in a browser (chaos/console).
    console_port: int = Field(19300, ge=1, le=65535)
    # The Faultyard exporter: process CPU/RSS, active faults, business invariants.
    exporter_port: int = Field(19100, ge=1, le=65535)
    # rq-exporter runs from its own venv (it needs redis<6); default: the repo's .venv-rq-exporter.
    rq_exporter_bin: Path | None = None
    # A Toxiproxy server to use instead of starting one (a real one, or the compose stack's).
    toxiproxy_url: str | None = Field(
        None, validation_alias=AliasChoices("TOXIPROXY_URL", "FAULTYARD_TOXIPROXY_URL")
    )
    app_workers: int = Field(2, ge=1, le=32)
    rq_workers: int = Field(2, ge=0, le=32)
    pg_bin_dir: Path | None = None
    pg_data_dir: Path | None = None
    pg_user: str = "faultyard"
    pg_database: str = "shop"
    seed_products: int = Field(1000, ge=0)
    start_timeout_s: float = Field(30.0, gt=0)
    stop_timeout_s: float = Field(10.0, gt=0)

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        if not ipaddress.ip_address(value).is_loopback:
            raise ValueError("the stack listens on loopback only (127.0.0.1 or ::1)")
        return value

    @model_validator(mode="after")
    def _compose_state_of_its_own(self) -> StackSettings:
        # The compose stack's admin token and run records must not mix with the native stack's.
        if self.target == "compose" and "state_dir" not in self.model_fields_set:
            self.state_dir = COMPOSE_STATE_DIR
        return self

    @property
    def state_path(self) -> Path:
        """Return the state folder as an absolute path."""
        return self.state_dir.resolve()

    @property
    def postgres_data(self) -> Path:
        """Return the PostgreSQL data directory."""
        return (self.pg_data_dir or self.state_path / "postgres").resolve()

    def _pg_url(self, port: int) -> str:
        return f"postgresql+psycopg://{self.pg_user}@{self._url_host}:{port}/{self.pg_database}"

    @property
    def database_url(self) -> str:
        """Return the URL of the shop's database, straight to PostgreSQL (for the stack itself)."""
        return self._pg_url(self.pg_port)

    @property
    def redis_url(self) -> str:
        """Return the URL of the stack's Redis, straight (for the stack itself)."""
        return f"redis://{self._url_host}:{self.redis_port}/0"

    @property
    def app_url(self) -> str:
        """Return the shop's own address (health checks, admin API)."""
        return f"http://{self._url_host}:{self.app_port}"

    @property
    def proxied_database_url(self) -> str:
        """Return the database URL the shop uses: through the `postgres` proxy."""
        return self._pg_url(self.proxy_pg_port)

    @property
    def proxied_redis_url(self) -> str:
        """Return the Redis URL the shop uses: through the `redis` proxy."""
        return f"redis://{self._url_host}:{self.proxy_redis_port}/0"

    @property
    def shop_url(self) -> str:
        """Return the shop's address for shoppers and load: through the `shop` proxy."""
        return f"http://{self._url_host}:{self.proxy_shop_port}"

    @property
    def toxiproxy_api_url(self) -> str:
        """Return the Toxiproxy API: TOXIPROXY_URL, or the one the stack starts."""
        return self.toxiproxy_url or f"http://{self._url_host}:{self.toxiproxy_port}"

    @property
    def prometheus_url(self) -> str:
        """Return the stack's Prometheus (web UI and HTTP API)."""
        return f"http://{self._url_host}:{self.prometheus_port}"

    @property
    def postgres_exporter_url(self) -> str:
        """Return prometheus-postgres-exporter's metrics endpoint."""
        return f"http://{self._url_host}:{self.postgres_exporter_port}/metrics"

    @property
    def redis_exporter_url(self) -> str:
        """Return prometheus-redis-exporter's metrics endpoint."""
        return f"http://{self._url_host}:{self.redis_exporter_port}/metrics"

    @property
    def exporter_url(self) -> str:
        """Return the Faultyard exporter's metrics endpoint."""
        return f"http://{self._url_host}:{self.exporter_port}/metrics"

    @property
    def rq_exporter_url(self) -> str:
        """Return rq-exporter's metrics endpoint."""
        return f"http://{self._url_host}:{self.rq_exporter_port}/metrics"

    @property
    def rq_dashboard_url(self) -> str:
        """Return rq-dashboard's web UI."""
        return f"http://{self._url_host}:{self.rq_dashboard_port}"

    @property
    def console_url(self) -> str:
        """Return the console's address: the dashboards live in a browser."""
        return f"http://{self._url_host}:{self.console_port}"

    def proxy_definitions(self) -> list[dict[str, object]]:
        """Return the proxies of the data path, in Toxiproxy's populate format."""

        def proxy(name: str, listen: int, upstream: int) -> dict[str, object]:
            return {
                "name": name,
                "listen": f"{self._url_host}:{listen}",
                "upstream": f"{self._url_host}:{upstream}",
                "enabled": True,
            }

        return [
            proxy("postgres", self.proxy_pg_port, self.pg_port),
            proxy("redis", self.proxy_redis_port, self.redis_port),
            proxy("shop", self.proxy_shop_port, self.app_port),
        ]

    @property
    def app_bind(self) -> str:
        """Return the shop's bind address for gunicorn (IPv6 in brackets)."""
        return f"{self._url_host}:{self.app_port}"

    @property
    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    def as_env(self) -> dict[str, str]:
        """Return the FAULTYARD_* variables that give another process these settings."""
        return {
            f"FAULTYARD_{name.upper()}": str(value)
            for name, value in self.model_dump().items()
            if value is not None
        }

    def child_env(self, *, shop: bool = True) -> dict[str, str]:
        """Return the environment a process of the stack starts with.

        Processes that run the shop's code (`shop`) also get the proxied URLs and
        the metrics folder their samples are merged from; the others (PostgreSQL,
        the proxy, exporters) must not write samples the shop would re-export.
        """
        env = dict(os.environ)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        # These very settings, however they were given (a test's stack passes its ports as
        # arguments): a child that reads them (the console starting a drill) acts on this stack.
        env.update(self.as_env())
        env.update(FAULTYARD_STATE_DIR=str(self.state_path), PYTHONUNBUFFERED="1")
        if shop:
            env.update(
                # The shop and its workers reach PostgreSQL and Redis only through the proxies.
                FAULTYARD_DATABASE_URL=self.proxied_database_url,
                FAULTYARD_REDIS_URL=self.proxied_redis_url,
                PROMETHEUS_MULTIPROC_DIR=str(self.state_path / "metrics"),
            )
        # Children run this interpreter's packages even when it is not on PATH.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        return env


def load_stack_settings(**overrides: object) -> StackSettings:
    """Read the settings; a bad value is a ConfigError naming the variable."""
    try:
        return StackSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"FAULTYARD_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"bad setting: {problems}") from None
