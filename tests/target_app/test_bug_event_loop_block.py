"""`similar_products_on_hub`: the ranking's CPU work holds the hub; the fix yields between chunks."""

from __future__ import annotations

import pytest
from flask import Flask

from target_app.services.similar import SWITCH, distance, edit_distance, rank, views
from tests.conftest import AppFactory
from tests.target_app.hub_ticker import longest_pause_of_others

PRODUCT = 1


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("", "", 0),
        ("anvil", "", 5),
        ("kitten", "sitting", 3),
        ("anvil", "anvli", 1),  # a swap of neighbours is one edit, not two
        ("ca", "abc", 3),  # optimal string alignment: no edit of a swapped pair again
    ],
)
def test_edit_distance(a: str, b: str, expected: int) -> None:
    assert edit_distance(a, b) == expected
    assert edit_distance(b, a) == expected


def test_word_order_costs_less_than_other_words() -> None:
    viewed = views("Dusty Anvil", "tools")
    swapped = views("Anvil Dusty", "tools")
    other = views("Shiny Kettle", "tools")
    assert distance(viewed, viewed) == 0
    assert distance(viewed, swapped) < distance(viewed, other)


def test_rank_lists_the_closest_first_and_breaks_ties_by_id() -> None:
    viewed = views("Dusty Anvil", "tools")
    candidates = [
        (4, views("Shiny Kettle", "kitchen")),
        (3, views("Dusty Anvils", "tools")),
        (2, views("Dusty Anvil", "tools")),
        (1, views("Dusty Anvil", "tools")),
    ]
    assert rank(viewed, candidates, limit=3) == [1, 2, 3]


def similar(app: Flask) -> list[int]:
    response = app.test_client().get(f"/products/{PRODUCT}/similar")
    assert response.status_code == 200, response.get_data(as_text=True)
    return [product["id"] for product in response.get_json()["items"]]


def pause_and_time(app: Flask) -> tuple[float, float]:
    """Serve one similar-products request while another greenlet ticks (hub_ticker)."""
    return longest_pause_of_others(lambda: similar(app))


def test_bug_and_fix_answer_the_same(make_app: AppFactory) -> None:
    app = make_app()
    app.extensions["switches"].set(SWITCH, True)
    on_hub = similar(app)
    app.extensions["switches"].set(SWITCH, False)
    assert similar(app) == on_hub
    assert len(on_hub) == 5 and PRODUCT not in on_hub


def test_the_bug_stops_every_other_greenlet_while_it_ranks(make_app: AppFactory) -> None:
    app = make_app()
    app.extensions["switches"].set(SWITCH, True)
    similar(app)  # warm: the engine's first connection

    pause, took = pause_and_time(app)

    # The ranking is most of the request and no other greenlet ran during it.
    assert pause > took / 2


def test_the_fix_lets_the_others_run_while_it_ranks(make_app: AppFactory) -> None:
    app = make_app()
    app.extensions["switches"].set(SWITCH, False)
    similar(app)

    pause, took = pause_and_time(app)

    # The ranking gives the hub a turn every few milliseconds (gevent.idle between chunks).
    assert pause < took / 4
