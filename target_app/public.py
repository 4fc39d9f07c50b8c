"""The shop's public face: all that the tool (chaos/) and the scenarios (scenarios/) may import.

Everything else in target_app is the shop's own and may change without
notice; import-linter (pyproject.toml, `make lint`) holds chaos and scenarios
to this module. What it offers:

- the shop's settings (`ShopSettings`, `load_settings`) and the names and
  descriptions of its bug switches (`SWITCHES`) and of the settings that may
  change at runtime (`RUNTIME_SETTINGS`);
- the state folder's layout (`switches_file`, `runtime_settings_file`,
  `admin_token_file`, `traces_dir`, `admin_token`) and the readers/writers of
  its shared files (`SwitchBoard`, `RuntimeSettings`);
- what the stack's readiness checks look for in Redis (`RELAY_HEARTBEAT_KEY`,
  `SCHEDULER_NAME`) and the shop's one-shot commands (`MIGRATE_MODULE`,
  `SEED_MODULE`, each run as `python -m MODULE`, and the files that decide
  what they make, `schema_and_seed_sources`);
- the seed's names and users (`ADJECTIVES`, `CATEGORIES`, `NOUNS`, `USERS`) and
  its customers with order history (`CUSTOMER_ID_BASE`, `CUSTOMERS`), every seeded
  account's password and the admin (`DEMO_PASSWORD`, `ADMIN_EMAIL`, `customer_email`), so shoppers
  pick what exists;
- the WSGI app built as gunicorn's workers build it (`shop_wsgi_app`) and the
  flush of its batched access lines (`flush_deferred_log_lines`), for benchmarks.

Importing this module loads neither the app, nor psycopg, nor SQLAlchemy.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from target_app import runtime_settings, switches
from target_app.config import RELAY_HEARTBEAT_KEY, SCHEDULER_NAME, ShopSettings, load_settings
from target_app.runtime_settings import (
    InvalidSettingError,
    RuntimeSetting,
    RuntimeSettings,
    UnknownSettingError,
)
from target_app.seed_data import (
    ADJECTIVES,
    ADMIN_EMAIL,
    CATEGORIES,
    CUSTOMER_ID_BASE,
    CUSTOMERS,
    DEMO_PASSWORD,
    NOUNS,
    USERS,
    customer_email,
)
from target_app.switches import Switch, SwitchBoard, UnknownSwitchError

if TYPE_CHECKING:
    from flask import Flask

__all__ = [
    "ADJECTIVES",
    "ADMIN_EMAIL",
    "CATEGORIES",
    "CUSTOMERS",
    "CUSTOMER_ID_BASE",
    "DEMO_PASSWORD",
    "MIGRATE_MODULE",
    "NOUNS",
    "RELAY_HEARTBEAT_KEY",
    "RUNTIME_SETTINGS",
    "SCHEDULER_NAME",
    "SEED_MODULE",
    "SWITCHES",
    "USERS",
    "InvalidSettingError",
    "RuntimeSetting",
    "RuntimeSettings",
    "ShopSettings",
    "Switch",
    "SwitchBoard",
    "UnknownSettingError",
    "UnknownSwitchError",
    "admin_token",
    "admin_token_file",
    "customer_email",
    "flush_deferred_log_lines",
    "load_settings",
    "runtime_settings_file",
    "schema_and_seed_sources",
    "shop_wsgi_app",
    "switches_file",
    "traces_dir",
]

#: Every bug switch by name: what the bug does (`bug`) and what the fix does (`fix`).
SWITCHES: Mapping[str, Switch] = MappingProxyType(switches.REGISTRY)
#: Every setting that may change at runtime by name: where the shop reads it (`read_by`),
#: its type and range (`describe()`).
RUNTIME_SETTINGS: Mapping[str, RuntimeSetting] = MappingProxyType(runtime_settings.REGISTRY)

#: Applies the migrations not applied yet to FAULTYARD_DATABASE_URL.
MIGRATE_MODULE = "target_app.migrate"
#: Seeds FAULTYARD_DATABASE_URL idempotently (`--products N`), after the migrations.
SEED_MODULE = "target_app.seed"


def schema_and_seed_sources() -> tuple[Path, ...]:
    """Return the files that decide what the migrations and the seed make, in a stable order.

    The stack skips both on a running database that this very code already
    migrated and seeded: it fingerprints these files' contents.
    """
    package = Path(__file__).parent
    migrations = sorted((package / "migrations" / "versions").glob("*.py"))
    return (
        *migrations,
        *(package / name for name in ("seed.py", "seed_data.py", "seed_history.py")),
    )


def _layout(state_dir: Path | str) -> ShopSettings:
    # The paths only: no environment read, no validation.
    return ShopSettings.model_construct(state_dir=Path(state_dir))


def switches_file(state_dir: Path | str) -> Path:
    """Return the file of the bug switches in `state_dir` (read and written by `SwitchBoard`)."""
    return _layout(state_dir).switches_file


def runtime_settings_file(state_dir: Path | str) -> Path:
    """Return the file of the runtime settings in `state_dir` (see `RuntimeSettings`)."""
    return _layout(state_dir).runtime_settings_file


def admin_token_file(state_dir: Path | str) -> Path:
    """Return the file the stack writes the shop's admin token to."""
    return _layout(state_dir).admin_token_file


def traces_dir(state_dir: Path | str) -> Path:
    """Return the folder of the JSON-lines span files (when no OTLP endpoint is set)."""
    return _layout(state_dir).traces_dir


def admin_token(state_dir: Path | str) -> str | None:
    """Return the admin token: FAULTYARD_ADMIN_TOKEN, else the stack's token file in `state_dir`."""
    return load_settings({"state_dir": Path(state_dir)}).resolved_admin_token()


def shop_wsgi_app() -> Flask:
    """Return the shop's WSGI app built exactly as a gunicorn worker builds it (target_app.wsgi).

    Building it patches the standard library with gevent first: call it in a
    process of its own, before anything imports psycopg.
    """
    return importlib.import_module("target_app.wsgi").app  # type: ignore[no-any-return]


def flush_deferred_log_lines() -> None:
    """Write the access lines the shop's log handler queued (it writes them in batches)."""
    from target_app.instrumentation.log_handler import flush_deferred

    flush_deferred()
