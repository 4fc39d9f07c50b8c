"""When the shop does not answer: the native shop's files stand in for its admin API,
the compose shop's (in its Docker volume) cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.compose.stack import ComposeStack
from chaos.errors import AdminApiError
from chaos.faults.injector import Injector
from chaos.ports import free_port
from chaos.settings import StackSettings, load_stack_settings
from chaos.stack.manager import Stack
from target_app.runtime_settings import RuntimeSettings
from target_app.switches import SwitchBoard


@pytest.fixture
def shop_down(tmp_path: Path) -> StackSettings:
    """Settings whose shop port nobody listens on, with an admin token as `faultyard up` writes."""
    (tmp_path / "admin-token").write_text("test-token\n")
    return load_stack_settings(state_dir=tmp_path, app_port=free_port(), target="native")


def test_the_native_shops_files_stand_in_for_its_admin_api(shop_down: StackSettings) -> None:
    injector = Injector(Stack(shop_down))
    SwitchBoard(injector.switches_file).set("lock_in_cart_order", True)
    RuntimeSettings(injector.settings_file).set("payment_failure_rate", 0.5)

    assert injector.switches_on() == ["lock_in_cart_order"]
    assert injector.settings_overridden() == {"payment_failure_rate": 0.5}
    said = injector.switch_off("lock_in_cart_order")
    assert (
        said
        == f"switch lock_in_cart_order off (shop not reachable: set in {injector.switches_file})"
    )
    assert injector.switches_on() == []
    assert "(shop not reachable: reset " in injector.reset_setting("payment_failure_rate")
    assert injector.settings_overridden() == {}

    SwitchBoard(injector.switches_file).set("leak_session_on_error", True)
    assert injector.reset_switches().startswith("every bug off (shop not reachable: reset ")
    assert not any(SwitchBoard(injector.switches_file).states().values())


def test_the_compose_shops_files_are_not_this_machines(shop_down: StackSettings) -> None:
    compose = ComposeStack(shop_down.model_copy(update={"target": "compose"}))
    injector = Injector(compose)
    SwitchBoard(injector.switches_file).set("lock_in_cart_order", True)  # a stale local copy
    for action in (
        injector.switches_on,
        injector.settings_overridden,
        injector.reset_switches,
        lambda: injector.switch_off("lock_in_cart_order"),
        lambda: injector.reset_setting(None),
    ):
        with pytest.raises(AdminApiError, match="files are in its Docker volume"):
            action()
    # The local copy was neither read nor changed.
    assert SwitchBoard(injector.switches_file).is_on("lock_in_cart_order")
