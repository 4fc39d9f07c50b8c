"""Monitoring of the stack: Prometheus, its scrape config and the standard exporters."""

from __future__ import annotations

from pathlib import Path

# dashboards/ sits next to chaos/ in the repository (the project is installed editable).
DASHBOARDS_DIR = Path(__file__).resolve().parents[2] / "dashboards"
