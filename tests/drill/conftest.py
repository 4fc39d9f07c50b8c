"""Fixtures of the drill tests: a drill a failed test left running is ended after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chaos.drill.state import load_current
from tests.conftest import faultyard


@pytest.fixture(autouse=True)
def no_drill_left_running(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test on the shared stack, give up any drill still running and reset the stack.

    A test that fails mid-drill would otherwise leave its drill (and its fault) in place,
    and every later drill test would fail for it: "a drill is already running".
    """
    yield
    if "stack" not in request.fixturenames or "cli_env" not in request.fixturenames:
        return
    stack, cli_env = request.getfixturevalue("stack"), request.getfixturevalue("cli_env")
    state = load_current(stack.settings)
    if state is not None and state.running:
        faultyard(cli_env, "drill", "give-up", timeout_s=120)
        faultyard(cli_env, "reset", timeout_s=120)
