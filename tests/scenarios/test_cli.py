"""`faultyard list`, `show` and `load` as a user types them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chaos.scenarios.catalogue import load_catalogue
from chaos.scenarios.journeys import journeys
from chaos.scenarios.model import LoadProfile
from tests.conftest import faultyard, free_port

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = load_catalogue()


@pytest.fixture
def bare_env(tmp_path: Path) -> dict[str, str]:
    """A minimal environment: no stack, nothing of the caller's FAULTYARD_* settings."""
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO),
        "FAULTYARD_STATE_DIR": str(tmp_path / "state"),
        "FAULTYARD_PROXY_SHOP_PORT": str(free_port()),
    }


def test_list_shows_name_difficulty_title_and_source(bare_env: dict[str, str]) -> None:
    result = faultyard(bare_env, "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "DIFFICULTY", "TITLE", "SOURCE"]
    rows = [line.split() for line in lines[1:] if not line.startswith(" ")]
    assert [row[0] for row in rows] == list(CATALOGUE)
    for row, scenario in zip(rows, CATALOGUE.values(), strict=True):
        assert row[1] == scenario.difficulty and row[-1] == "built-in"
    assert all(line == line.rstrip() for line in lines)


def test_list_json(bare_env: dict[str, str]) -> None:
    result = faultyard(bare_env, "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows == [
        {"name": s.name, "title": s.title, "difficulty": s.difficulty, "source": "built-in"}
        for s in CATALOGUE.values()
    ]


def test_the_readme_table_is_the_generated_one(bare_env: dict[str, str]) -> None:
    result = faultyard(bare_env, "list", "--markdown")
    assert result.returncode == 0, result.stderr
    readme = (REPO / "README.md").read_text()
    start = readme.index("\n", readme.index("<!-- scenarios:start")) + 1
    table = readme[start : readme.index("<!-- scenarios:end -->")]
    assert table == result.stdout, (
        "README.md's scenario table is stale: paste `faultyard list --markdown` between its markers"
    )
    assert len(table.splitlines()) == 2 + len(CATALOGUE)


def test_show_prints_the_page_probes_and_guide(bare_env: dict[str, str]) -> None:
    result = faultyard(bare_env, "show", "deadlock")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("deadlock: Checkouts lock product rows in cart order\n")
    for heading in (
        "The page (what a drill shows)",
        "Faults",
        "Symptoms (must appear with the fault on)",
        "SLO (must hold with the fix on)",
        "Where to look",
        "Root cause",
        "Further reading",
    ):
        assert f"\n{heading}\n" in out
    assert "  - switch lock_in_cart_order on (bug)" in out
    assert 'sum(rate(pg_stat_database_deadlocks{datname="shop"}[10s])) > 0' in out
    # Links stay whole on one line, whatever the width.
    assert (
        "    https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-DEADLOCKS\n"
        in out
    )
    # The answer key is for drills: `show` does not print the multiple choice.
    assert "correct_choice" not in out


def test_show_json_is_the_whole_scenario(bare_env: dict[str, str]) -> None:
    result = faultyard(bare_env, "show", "flaky-jobs", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["name"] == "flaky-jobs"
    assert data["answer"]["root_cause"] == "retry-without-backoff"


def test_show_unknown_name_exits_2_listing_the_known_ones(bare_env: dict[str, str]) -> None:
    result = faultyard(bare_env, "show", "dedlock")
    assert result.returncode == 2
    assert result.stderr == f"error: unknown scenario 'dedlock'; known: {', '.join(CATALOGUE)}\n"


def test_load_exits_2_when_the_stack_is_down(bare_env: dict[str, str]) -> None:
    result = faultyard(bare_env, "load", "--headless", "--run-time", "1s")
    assert result.returncode == 2
    assert "the shop does not answer at http://127.0.0.1:" in result.stderr
    assert "start the stack first with `make up`" in result.stderr


@pytest.mark.slow
def test_every_journey_runs_without_failures(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A shopper or two per journey for a few seconds against the stack: every request succeeds."""
    weights = {name: 2 if name == "Browser" else 1 for name in journeys()}
    users = sum(weights.values())
    # The options a scenario's load profile gives Locust, as the runner will pass them.
    profile = LoadProfile(users=users, spawn_rate=users, duration_s=8, journeys=weights)
    result = faultyard(
        cli_env,
        "load", "--headless", *profile.locust_args(),
        "--json-file", str(tmp_path / "stats"), "--only-summary",
        timeout_s=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    entries = json.loads((tmp_path / "stats.json").read_text())
    failures = {e["name"]: e["num_failures"] for e in entries if e["num_failures"]}
    assert not failures, result.stderr[-3000:]
    requests = {e["name"]: e["num_requests"] for e in entries}
    # Each journey's own requests (Browser's detail and search pages are chosen at random).
    for name in (
        "/carts", "/carts/<id>/items", "/carts/<id>", "/carts/<id>/checkout",
        "/users/<id>/orders", "/stream/stock", "/products",
    ):  # fmt: skip
        assert requests.get(name, 0) > 0, f"no {name} requests: {requests}"
    assert requests.get("/products/<id>", 0) + requests.get("/products/search", 0) > 0, requests
