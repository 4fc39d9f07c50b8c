"""proxy_down on the session's stack: the shop's proxy taken down and brought up again.

The `shop` proxy: only shoppers and probes go through it, so taking it down
never cuts the shop's own links to PostgreSQL and Redis.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from chaos.faults import ProxyDown
from chaos.faults.injector import Injector
from chaos.scenarios.cleanup import ActiveRun, active_file, sweep, undo_active, write_active
from chaos.stack.manager import Stack
from tests.conftest import eventually

pytestmark = pytest.mark.slow

DOWN = ProxyDown(proxy="shop")


@pytest.fixture
def injector(stack: Stack) -> Iterator[Injector]:
    injector = Injector(stack)
    yield injector
    injector.toxiproxy.set_enabled("shop", True)  # whatever a failed test left


def shop_answers(stack: Stack) -> bool:
    """Return whether the shop answers through its proxy."""
    try:
        return requests.get(f"{stack.settings.shop_url}/healthz", timeout=5).ok
    except requests.ConnectionError:
        return False


def test_down_refuses_connections_and_revert_brings_the_proxy_back(
    stack: Stack, injector: Injector
) -> None:
    assert shop_answers(stack)
    said = injector.apply(DOWN)
    assert said == "took proxy shop down: its connections closed, new ones refused"
    assert not injector.toxiproxy.proxy("shop").enabled
    assert not shop_answers(stack)

    assert injector.revert(DOWN) == "proxy shop up again"
    assert injector.toxiproxy.proxy("shop").enabled
    eventually(lambda: shop_answers(stack), "the shop to answer through its proxy again")
    # Reverting again is harmless, and so is a proxy that is gone altogether.
    assert injector.revert(DOWN) == "proxy shop up again"
    gone = ProxyDown(proxy="no_such_proxy")
    assert injector.revert(gone) == "proxy no_such_proxy does not exist: nothing to bring up"


def test_applied_brings_the_proxy_back_however_the_block_ends(injector: Injector) -> None:
    with pytest.raises(RuntimeError), DOWN.applied(injector.ctx):
        assert not injector.toxiproxy.proxy("shop").enabled
        raise RuntimeError("the block failed")
    assert injector.toxiproxy.proxy("shop").enabled


def test_a_killed_runs_proxy_down_is_undone_from_its_active_file(
    stack: Stack, injector: Injector
) -> None:
    injector.apply(DOWN)
    run = ActiveRun(
        scenario="test",
        pid=2**22 + 1,  # above pid_max's default: no such process
        started_at=0.0,
        steps=[DOWN.model_dump(mode="json")],
    )
    write_active(stack.settings, run)
    lines = undo_active(injector)
    assert lines[1:] == ["proxy shop up again"]
    assert injector.toxiproxy.proxy("shop").enabled
    assert not active_file(stack.settings).exists()


def test_sweep_brings_up_a_proxy_nobody_listed(injector: Injector) -> None:
    injector.toxiproxy.set_enabled("shop", False)  # as `faultyard proxy down shop` does
    assert "proxy shop disabled: proxy shop up again" in sweep(injector)
    assert injector.toxiproxy.proxy("shop").enabled
    assert sweep(injector) == []
