"""Fixtures: the committed compose/ files, parsed."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from chaos.compose import COMPOSE_DIR, COMPOSE_FILE


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """Return compose/docker-compose.yml as committed."""
    return yaml.safe_load(COMPOSE_FILE.read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the compose file's services by name."""
    return compose["services"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def toxiproxy_config() -> list[dict[str, Any]]:
    """Return the proxies the real Toxiproxy is populated with (compose/toxiproxy.json)."""
    return json.loads((COMPOSE_DIR / "toxiproxy.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def prometheus_config() -> dict[str, Any]:
    """Return compose/prometheus.yml."""
    return yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text())  # type: ignore[no-any-return]
