"""`faultyard setting` and `faultyard reset` on the session's stack, as a user types them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chaos.stack.manager import Stack
from target_app.config import load_settings
from target_app.runtime_settings import REGISTRY, RuntimeSettings
from tests.conftest import faultyard, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def board(stack: Stack) -> Iterator[RuntimeSettings]:
    """The stack's runtime settings file; every setting is back to its default afterwards."""
    board = RuntimeSettings(
        load_settings({"state_dir": stack.settings.state_path}).runtime_settings_file, refresh_s=0
    )
    yield board
    board.reset()


def row(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(name + " "))


def test_list_show_set_and_put_back(cli_env: dict[str, str], board: RuntimeSettings) -> None:
    listed = faultyard(cli_env, "setting")
    assert listed.returncode == 0, listed.stderr
    assert {line.split()[0] for line in listed.stdout.splitlines()} == set(REGISTRY)
    assert "float, x >= 0, x <= 1" in row(listed.stdout, "payment_failure_rate")

    changed = faultyard(cli_env, "setting", "payment_failure_rate", "0.5")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.split()[:4] == ["payment_failure_rate", "0.5", "(default", "0.0)"]
    assert board.overrides() == {"payment_failure_rate": 0.5}  # where every process reads it

    shown = faultyard(cli_env, "setting", "payment_failure_rate")
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 1
    assert shown.stdout.split()[1] == "0.5"

    back = faultyard(cli_env, "setting", "payment_failure_rate", "default")
    assert back.returncode == 0 and back.stdout.split()[1:3] == ["0.0", "(default)"]
    assert board.overrides() == {}


def test_bad_values_and_names_are_refused_clearly(
    cli_env: dict[str, str], board: RuntimeSettings
) -> None:
    too_high = faultyard(cli_env, "setting", "payment_failure_rate", "2")
    assert too_high.returncode == 2 and "x <= 1" in too_high.stderr
    not_a_number = faultyard(cli_env, "setting", "catalog_cache_ttl_s", "soon")
    assert (
        not_a_number.returncode == 2 and "catalog_cache_ttl_s takes a float" in not_a_number.stderr
    )
    for command in (["setting", "nope", "1"], ["setting", "nope"]):
        unknown = faultyard(cli_env, *command)
        assert unknown.returncode == 2, command
        assert "unknown runtime setting 'nope'" in unknown.stderr
        assert "payment_failure_rate" in unknown.stderr
    assert board.overrides() == {}


def test_reset_puts_every_setting_back_even_with_the_shop_down(
    cli_env: dict[str, str], board: RuntimeSettings
) -> None:
    assert faultyard(cli_env, "setting", "catalog_cache_ttl_s", "5").returncode == 0
    reset = faultyard(cli_env, "reset")
    assert reset.returncode == 0, reset.stderr
    assert "settings: every runtime setting back to its default" in reset.stdout
    assert board.overrides() == {}

    board.set("payment_failure_rate", 0.9)
    shop_unreachable = {**cli_env, "FAULTYARD_APP_PORT": str(free_port())}
    reset = faultyard(shop_unreachable, "reset")
    assert reset.returncode == 0, reset.stderr
    assert "(shop not reachable: reset " in reset.stdout.splitlines()[-1]  # the file itself
    assert board.overrides() == {}
