"""The shop's Flask subclass behaves as Flask does."""

from __future__ import annotations

import pytest
from flask import Flask

from target_app.app import ShopFlask


def test_plain_functions_run_as_they_are_and_coroutines_as_flask_runs_them(app: Flask) -> None:
    assert isinstance(app, ShopFlask)
    for view in app.view_functions.values():
        assert app.ensure_sync(view) is view
        assert app.ensure_sync(view) is view  # the kept answer is the same

    async def coroutine_view() -> str:
        return "never awaited here"

    # Flask without its async extra refuses coroutines; the shop refuses them alike, every time.
    for _ in range(2):
        with pytest.raises(RuntimeError, match="async"):
            app.ensure_sync(coroutine_view)
