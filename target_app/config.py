"""Every setting of the shop, read from FAULTYARD_* environment variables with a default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Where the outbox relay writes its heartbeat (the stack's readiness check reads it).
RELAY_HEARTBEAT_KEY = "faultyard:relay:heartbeat"


class ShopSettings(BaseSettings):
    """The shop's settings; units are in the names."""

    model_config = SettingsConfigDict(env_prefix="FAULTYARD_", extra="ignore")

    database_url: str = "postgresql+psycopg://faultyard@127.0.0.1:15432/shop"
    redis_url: str = "redis://127.0.0.1:16379/0"
    state_dir: Path = Path(".faultyard")

    pool_size: int = Field(5, ge=1)
    pool_max_overflow: int = Field(5, ge=0)
    pool_timeout_s: float = Field(5.0, gt=0)
    db_connect_timeout_s: int = Field(3, ge=1)
    # Shown in pg_stat_activity: which process holds which connection.
    db_application_name: str = "faultyard-shop"

    max_body_bytes: int = Field(64 * 1024, ge=1024)

    # Work done between row locks at checkout (pricing, fraud check): it widens
    # the window in which two checkouts interleave, as a slow dependency does.
    checkout_lock_pause_ms: int = Field(0, ge=0)

    payment_queue: str = "payments"
    payment_delay_ms: int = Field(50, ge=0)
    payment_failure_rate: float = Field(0.0, ge=0.0, le=1.0)
    payment_max_retries: int = Field(3, ge=0)
    payment_retry_base_s: float = Field(1.0, gt=0)
    payment_job_timeout_s: int = Field(30, ge=1)

    events_stream: str = "shop:events"
    events_stream_maxlen: int = Field(100_000, ge=100)
    stock_channel: str = "shop:stock"
    relay_batch_size: int = Field(100, ge=1)
    relay_poll_interval_s: float = Field(0.2, gt=0)

    sse_heartbeat_s: float = Field(15.0, gt=0)
    switch_refresh_s: float = Field(0.2, gt=0)
    admin_token: str | None = None

    log_level: str = "INFO"

    @property
    def switches_file(self) -> Path:
        """Return where the bug switches live: a local file survives Redis and PostgreSQL outages."""
        return self.state_dir / "switches.json"

    @property
    def admin_token_file(self) -> Path:
        """Return the file the stack writes the admin token to."""
        return self.state_dir / "admin-token"

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
