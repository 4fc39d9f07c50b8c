"""`up` on a running stack skips the migrations and the seed this very code already applied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chaos.stack import postgres, shop_commands
from chaos.stack.manager import Stack

pytestmark = pytest.mark.slow


def spy_on_shop_commands(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the module of every shop command run from now on (each still runs)."""
    ran: list[str] = []
    real: Callable[..., None] = shop_commands.run_shop_command

    def recording(module: str, *args: Any, **kwargs: Any) -> None:
        ran.append(module)
        real(module, *args, **kwargs)

    monkeypatch.setattr(shop_commands, "run_shop_command", recording)
    return ran


def test_a_database_this_code_migrated_and_seeded_is_not_done_again(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = stack.settings
    mark = shop_commands.bootstrap_fingerprint(settings.seed_products)
    assert postgres.database_comment(settings) == mark
    ran = spy_on_shop_commands(monkeypatch)
    stack.up()
    assert ran == []


@pytest.mark.parametrize(
    "comment",
    [None, "faultyard: migrated and seeded (0123456789abcdef, 1000 products)"],
    ids=["no-mark", "older-code"],
)
def test_without_this_codes_mark_up_migrates_and_seeds_then_marks(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, comment: str | None
) -> None:
    settings = stack.settings
    with postgres.connect(settings) as conn:
        conn.execute(f'COMMENT ON DATABASE "{settings.pg_database}" IS NULL')
    if comment is not None:
        postgres.set_database_comment(settings, comment)
    ran = spy_on_shop_commands(monkeypatch)
    stack.up()
    assert ran == ["target_app.migrate", "target_app.seed"]
    assert postgres.database_comment(settings) == shop_commands.bootstrap_fingerprint(
        settings.seed_products
    )


def test_the_mark_changes_with_the_catalog_size_and_names_it() -> None:
    small, large = (
        shop_commands.bootstrap_fingerprint(10),
        shop_commands.bootstrap_fingerprint(1000),
    )
    assert small != large and "10 products" in small
