"""`suggest_memo_per_request`: every request's ranking kept for ever; the fix keeps a bounded few."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from flask import Flask

from target_app.services import suggest
from tests.conftest import AppFactory

AUTH = {"Authorization": "Bearer test-token"}  # make_app's admin token
PRODUCT_OUT = "target_app.schemas.ProductOut"


@pytest.fixture(autouse=True)
def empty_caches() -> Iterator[None]:
    suggest.forget()
    yield
    suggest.forget()


def suggestions(app: Flask, text: str) -> dict[str, object]:
    response = app.test_client().get("/products/suggest", query_string={"q": text})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def leaky_app(make_app: AppFactory, *, on: bool) -> Flask:
    app = make_app()
    app.extensions["switches"].set(suggest.SWITCH, on)
    return app


def test_best_matches_first_and_how_many_matched(make_app: AppFactory) -> None:
    app = leaky_app(make_app, on=False)
    answer = suggestions(app, "Dusty Anvil")
    names = [item["name"] for item in answer["items"]]  # type: ignore[index]
    assert len(names) == suggest.LIMIT
    assert answer["total"] > len(names)  # "dusty" or "anvil" alone match more
    both = [n for n in names if n.startswith("Dusty Anvil")]
    assert both and names[: len(both)] == both  # both words matched: first
    assert both == sorted(both)


def test_bug_and_fix_answer_the_same(make_app: AppFactory) -> None:
    fixed = suggestions(leaky_app(make_app, on=False), "brisk dr")
    suggest.forget()
    assert suggestions(leaky_app(make_app, on=True), "brisk dr") == fixed


def test_the_bug_keeps_every_requests_ranking(make_app: AppFactory) -> None:
    app = leaky_app(make_app, on=True)
    for _ in range(3):
        suggestions(app, "dusty")  # the same text: the memo still never hits
    assert suggest.memo_entries() == 3


def test_the_fix_keeps_nothing_per_request_and_shares_normalised_answers(
    make_app: AppFactory,
) -> None:
    app = leaky_app(make_app, on=False)
    first = suggestions(app, "Dusty  anvil")
    again = suggestions(app, " dusty ANVIL")
    assert suggest.memo_entries() == 0
    assert again["items"] == first["items"] and again["q"] == " dusty ANVIL"
    assert len(suggest._answers) == 1


def test_the_fix_forgets_what_the_bug_kept(make_app: AppFactory) -> None:
    app = leaky_app(make_app, on=True)
    suggestions(app, "dusty")
    app.extensions["switches"].set(suggest.SWITCH, False)
    suggestions(app, "dusty")
    assert suggest.memo_entries() == 0


def test_the_fixs_cache_is_bounded(make_app: AppFactory) -> None:
    app = leaky_app(make_app, on=False)
    for n in range(suggest.CACHE_ENTRIES + 20):
        suggestions(app, f"anvil {n}")
    assert len(suggest._answers) == suggest.CACHE_ENTRIES
    # Kept as JSON, a kilobyte or so each: a cache filling up after a deploy must not grow a
    # worker by megabytes (the scenario's fixed mode reads memory growth as a leak).
    held = list(suggest._answers.values())
    assert all(isinstance(answer, str) for answer in held)  # no object graph behind them
    assert sum(sys.getsizeof(answer) for answer in held) < 2 * 1024 * len(held)


def test_admin_memory_counts_what_the_leak_holds(make_app: AppFactory) -> None:
    app = leaky_app(make_app, on=True)
    client = app.test_client()
    assert client.get("/admin/memory").status_code == 401

    def product_schemas() -> int:
        response = client.get("/admin/memory?top=200", headers=AUTH)
        assert response.status_code == 200, response.get_data(as_text=True)
        counts = {t["type"]: t["count"] for t in response.get_json()["top_types"]}
        return counts.get(PRODUCT_OUT, 0)  # 0 if not among the top 200: fewer than that

    before = product_schemas()
    kept = sum(suggestions(app, f"du {n}")["total"] for n in range(5))  # type: ignore[misc]
    assert kept > 200
    assert product_schemas() >= before + kept
    assert client.get("/admin/memory?top=0", headers=AUTH).status_code == 422
