"""compose/ is generated from the native stack's configuration, and the committed files are current."""

from __future__ import annotations

import pytest

from chaos.compose.__main__ import generate
from chaos.compose.render import ComposeRenderer


def test_committed_files_equal_a_fresh_generation() -> None:
    files = ComposeRenderer().files()
    stale = [str(path) for path, text in files.items() if path.read_text() != text]
    assert stale == [], f"regenerate with `make compose-config`: {stale}"
    assert generate(check=True) == 0


def test_generation_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The committed files hold defaults and ${FAULTYARD_*:-default}: a developer's own
    # ports or worker count must not leak into them.
    before = ComposeRenderer().files()
    monkeypatch.setenv("FAULTYARD_PG_PORT", "35432")
    monkeypatch.setenv("FAULTYARD_PROXY_SHOP_PORT", "38000")
    monkeypatch.setenv("FAULTYARD_RQ_WORKERS", "5")
    assert ComposeRenderer().files() == before
