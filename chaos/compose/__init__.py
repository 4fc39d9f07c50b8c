"""The compose stack: compose/ generated from the native stack's settings, and its CLI target."""

from __future__ import annotations

from pathlib import Path

# compose/ sits next to chaos/ in the repository (the project is installed editable).
COMPOSE_DIR = Path(__file__).resolve().parents[2] / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
