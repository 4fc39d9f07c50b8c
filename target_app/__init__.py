"""The Faultyard shop: a small, deliberately instrumented e-commerce API.

Nothing here imports psycopg at package import time, so entry points can let
gevent patch the standard library first (see target_app.wsgi and target_app.worker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the shop; `config` overrides settings (tests pass a dict)."""
    from target_app.app import create_app as _create_app

    return _create_app(config)
