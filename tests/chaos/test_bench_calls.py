"""`make bench-calls`: each side is a shop process of its own, and the counts tell them apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.bench import calls
from chaos.stack.manager import Stack


@pytest.mark.slow
def test_each_side_counts_the_calls_of_its_own_shop(stack: Stack, tmp_path: Path) -> None:
    settings = stack.settings
    env = {
        **settings.child_env(),
        "FAULTYARD_DATABASE_URL": settings.database_url,
        "FAULTYARD_REDIS_URL": settings.redis_url,
        "FAULTYARD_STATE_DIR": str(tmp_path),
    }
    counts = {side: calls.run_side(side, "catalog", 30, 1, env) for side in calls.SIDES}
    assert counts["on"]["requests"] == counts["off"]["requests"] == 30
    on_functions, off_functions = counts["on"]["per_function"], counts["off"]["per_function"]
    # The request hooks run on one side only; the catalog's own code on both, as often.
    assert any(
        name.startswith("target_app/instrumentation/request_hooks.py:") for name in on_functions
    )
    assert not any(
        name.startswith("target_app/instrumentation/request_hooks.py:") for name in off_functions
    )
    (page,) = [
        name
        for name in off_functions
        if name.startswith("target_app/services/catalog.py:") and name.endswith("(_page)")
    ]
    assert on_functions[page] == off_functions[page] > 0

    result = calls.compare(counts["on"], counts["off"], top=5)
    assert result["calls_per_request"]["on"] > result["calls_per_request"]["off"]
    assert len(result["largest_differences"]) == 5
    assert (tmp_path / "shop-on-catalog.log").read_text().count('"message":"request"') == 60
