"""Every setting of the shop, read from FAULTYARD_* environment variables with a default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Where the outbox relay writes its heartbeat (the stack's readiness check reads it).
RELAY_HEARTBEAT_KEY = "faultyard:relay:heartbeat"
#: The name the RQ scheduler registers under (the stack's readiness check looks for it).
SCHEDULER_NAME = "faultyard-scheduler"


class ShopSettings(BaseSettings):
    """The shop's settings; units are in the names."""

    model_config = SettingsConfigDict(env_prefix="FAULTYARD_", extra="ignore")

    database_url: str = "postgresql+psycopg://faultyard@127.0.0.1:15432/shop"
    redis_url: str = "redis://127.0.0.1:16379/0"
    state_dir: Path = Path(".faultyard")

    pool_size: int = Field(5, ge=1)
    pool_max_overflow: int = Field(5, ge=0)
    pool_timeout_s: float = Field(5.0, gt=0)
    # A pooled connection idle longer than this is pinged before use (HikariCP's
    # aliveBypassWindowMs, 500 ms there); one used more recently is handed out as it is.
    # Keep it below the shortest idle timeout between the shop and PostgreSQL.
    pool_ping_after_idle_s: float = Field(0.25, ge=0)
    db_connect_timeout_s: int = Field(3, ge=1)
    # Shown in pg_stat_activity: which process holds which connection.
    db_application_name: str = "faultyard-shop"

    max_body_bytes: int = Field(64 * 1024, ge=1024)

    # Work done between row locks at checkout (pricing, fraud check), or between
    # reading the stock and writing it when the rows are not locked: it widens the
    # window in which two checkouts interleave, as a slow dependency does.
    checkout_lock_pause_ms: int = Field(0, ge=0)
    # How long the (simulated) pricing service takes to quote a product's price.
    pricing_call_ms: int = Field(50, ge=0)

    payment_queue: str = "payments"
    payment_delay_ms: int = Field(50, ge=0)
    payment_failure_rate: float = Field(0.0, ge=0.0, le=1.0)
    payment_max_retries: int = Field(3, ge=0)
    payment_retry_base_s: float = Field(1.0, gt=0)
    payment_job_timeout_s: int = Field(30, ge=1)
    # Retries of the `retry_without_backoff` bug: many, at once.
    payment_storm_retries: int = Field(20, ge=1)
    # The provider declines, for good, any capture of more than this (0: it declines none).
    payment_decline_above_cents: int = Field(0, ge=0)

    # Catalog reads served from a per-process copy at most this old; 0 turns it off.
    catalog_cache_ttl_s: float = Field(0.0, ge=0.0, le=3600.0)
    catalog_cache_max_products: int = Field(10_000, ge=1)
    # The front page's best sellers (a shared Redis cache entry) are recomputed this often.
    highlights_ttl_s: float = Field(60.0, ge=1.0, le=3600.0)

    events_stream: str = "shop:events"
    events_stream_maxlen: int = Field(100_000, ge=100)
    relay_batch_size: int = Field(100, ge=1)
    relay_poll_interval_s: float = Field(0.2, gt=0)

    #: A live stream quiet this long gets a keepalive (an SSE comment, a WebSocket ping):
    #: proxies and load balancers in between keep it, and a client gone is noticed (the
    #: write fails) within this long, its stream's Redis connection freed.
    sse_heartbeat_s: float = Field(2.0, gt=0)
    switch_refresh_s: float = Field(0.2, gt=0)
    admin_token: str | None = None

    # Accounts. The key signing access tokens (HS256); unset, the state folder's jwt-secret
    # file (made on first use) keeps every worker and restart on one key.
    jwt_secret: str | None = None
    access_token_ttl_s: int = Field(300, ge=5, le=86_400)
    refresh_token_ttl_s: int = Field(14 * 86_400, ge=60)
    # Argon2id's cost: OWASP's minimum (19 MiB, 2 passes, 1 lane) takes ~20 ms a hash here.
    password_hash_time_cost: int = Field(2, ge=1, le=50)
    password_hash_memory_kib: int = Field(19_456, ge=1024, le=1_048_576)
    # Rate limits (Flask-Limiter's notation, counted in the stack's Redis): failed logins per
    # account, login attempts per client address, checkouts per user.
    login_limit_per_account: str = "10 per minute"
    login_limit_per_address: str = "60 per minute"
    checkout_limit_per_user: str = "300 per minute"
    rate_limit_prefix: str = "faultyard:limits"
    # Proxies in front of the shop that append the client's address to X-Forwarded-For
    # (the load balancer the stack's proxy stands for): the client address the per-address
    # limits count is the one this many hops back (and only they: the admin API's loopback
    # check keeps the TCP peer). 0: the TCP peer.
    trusted_proxy_hops: int = Field(1, ge=0, le=5)

    # gevent's monitor thread reports a hub blocked longer than this; 0 turns it off.
    hub_max_blocking_ms: float = Field(100.0, ge=0)

    log_level: str = "INFO"

    # Master switch of everything the shop measures about itself: request and pool metrics,
    # statement metrics, access logs, traces and the hub monitor (for `make bench-overhead`).
    instrumentation: bool = True

    # Traces: OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, else JSON lines in STATE/traces.
    tracing: bool = True
    # New traces a process starts per second (continued ones follow their parent); 0: no limit.
    # Every request is traced at human pace; under load tracing costs a bounded share: the
    # cost grows with this rate (20 a second took about 4 % of a catalog-bound shop's CPU).
    tracing_max_traces_per_s: float = Field(5.0, ge=0)
    tracing_flush_interval_ms: int = Field(1000, ge=10)
    tracing_file_max_bytes: int = Field(16 * 1024 * 1024, ge=64 * 1024)
    tracing_dir_max_bytes: int = Field(128 * 1024 * 1024, ge=1024 * 1024)
    # Spans from opentelemetry-instrumentation-flask and -sqlalchemy (every semantic-convention
    # attribute, about +49 % instructions a request) instead of the shop's lean hooks.
    tracing_library_instrumentation: bool = False

    @model_validator(mode="after")
    def _instrumentation_off_means_all_off(self) -> ShopSettings:
        if not self.instrumentation:
            self.tracing = False
            self.hub_max_blocking_ms = 0
        return self

    @property
    def switches_file(self) -> Path:
        """Return where the bug switches live: a local file survives Redis and PostgreSQL outages."""
        return self.state_dir / "switches.json"

    @property
    def runtime_settings_file(self) -> Path:
        """Return where settings changed at runtime live (target_app.runtime_settings)."""
        return self.state_dir / "runtime-settings.json"

    @property
    def listings_hidden_file(self) -> Path:
        """Return the file whose presence hides the admin API's switch and setting listings.

        A drill creates it: on call nobody can list the bugs that are switched on.
        """
        return self.state_dir / "listings-hidden"

    @property
    def traces_dir(self) -> Path:
        """Return where the JSON-lines span files go when no OTLP endpoint is set."""
        return self.state_dir / "traces"

    @property
    def admin_token_file(self) -> Path:
        """Return the file the stack writes the admin token to."""
        return self.state_dir / "admin-token"

    @property
    def jwt_secret_file(self) -> Path:
        """Return the file holding the key that signs access tokens (made on first use)."""
        return self.state_dir / "jwt-secret"

    def resolved_admin_token(self) -> str | None:
        """Return the admin token from the setting, else from the stack's token file."""
        if self.admin_token:
            return self.admin_token
        try:
            return self.admin_token_file.read_text().strip() or None
        except FileNotFoundError:
            return None


def load_settings(overrides: dict[str, Any] | None = None) -> ShopSettings:
    """Read the settings from the environment, then apply explicit overrides."""
    return ShopSettings(**(overrides or {}))
