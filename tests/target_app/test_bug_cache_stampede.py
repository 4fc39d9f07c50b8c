"""`highlights_recompute_on_every_miss`: every request that misses recomputes; the fix, one."""

from __future__ import annotations

from collections.abc import Iterator

import gevent
import pytest
from flask import Flask
from prometheus_client import REGISTRY
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import Engine, text

from target_app.schemas import Highlights
from target_app.services import highlights
from target_app.services.highlights import HighlightsCache
from tests.conftest import AppFactory

CONCURRENT = 8


@pytest.fixture(autouse=True)
def no_entry(redis_client: Redis) -> Iterator[None]:
    """Each test starts without the shared entry (and leaves none behind for the stack)."""
    keys = (highlights.KEY, highlights.LOCK_KEY, highlights.COMPUTING_KEY)
    redis_client.delete(*keys)
    yield
    redis_client.delete(*keys)


def count(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, {"key": "highlights", **labels}) or 0.0


def recomputes() -> dict[str, float]:
    return {o: count("shop_cache_recomputes_total", overlapping=o) for o in ("yes", "no")}


def reads() -> dict[str, float]:
    results = ("fresh", "stale", "miss", "error")
    return {r: count("shop_cache_reads_total", result=r) for r in results}


def one_read(app: Flask, *, single_flight: bool = True) -> Highlights:
    """Read the highlights as a request would, with a session of its own."""
    with app.app_context():
        session = app.extensions["db_sessionmaker"]()
        try:
            cache = HighlightsCache(app.extensions["redis"], session, ttl_s=30)
            return cache.read(single_flight=single_flight)
        finally:
            session.close()


def read_at_once(app: Flask, *, single_flight: bool) -> list[Highlights]:
    """Read the highlights from CONCURRENT greenlets at once, each with its own session."""
    greenlets = [
        gevent.spawn(one_read, app, single_flight=single_flight) for _ in range(CONCURRENT)
    ]
    gevent.joinall(greenlets, raise_error=True, timeout=60)
    return [g.value for g in greenlets]


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in after}


def test_the_front_page_shows_the_years_best_sellers(app: Flask, db: Engine) -> None:
    response = app.test_client().get("/products/highlights")
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = Highlights.model_validate(response.get_json())
    assert answer.computed_at.utcoffset() is not None
    units = [seller.units_sold for seller in answer.bestsellers]
    assert len(units) == highlights.TOP and units == sorted(units, reverse=True)
    with db.connect() as conn:
        top = conn.execute(
            text(
                "SELECT oi.product_id, sum(oi.quantity) FROM order_items oi "
                "JOIN orders o ON o.id = oi.order_id WHERE o.status = 'paid' "
                "AND o.created_at > LOCALTIMESTAMP - interval '365 days' "
                "GROUP BY oi.product_id ORDER BY 2 DESC, 1 LIMIT 1"
            )
        ).one()
    assert (answer.bestsellers[0].id, answer.bestsellers[0].units_sold) == tuple(top)
    categories = [seller.category for seller in answer.by_category]
    assert categories == sorted(set(categories))  # one each, in order
    first = {s.category: s for s in answer.by_category}[answer.bestsellers[0].category]
    assert first.id == answer.bestsellers[0].id  # the best seller leads its own category
    pairs = answer.bought_together
    assert len(pairs) == highlights.TOP and all(p.first_id < p.second_id for p in pairs)
    assert [p.orders for p in pairs] == sorted((p.orders for p in pairs), reverse=True)


def test_the_bug_recomputes_for_every_request_that_misses(make_app: AppFactory) -> None:
    app = make_app()
    before_recomputes, before_reads = recomputes(), reads()
    read_at_once(app, single_flight=False)
    made = delta(recomputes(), before_recomputes)
    assert made["yes"] + made["no"] == CONCURRENT  # all missed before the first had stored it
    assert made["yes"] >= 1  # and the shop saw them run side by side
    assert delta(reads(), before_reads)["miss"] == CONCURRENT


def test_the_fix_recomputes_once_and_serves_the_stale_copy_meanwhile(
    make_app: AppFactory, redis_client: Redis
) -> None:
    app = make_app()
    read_at_once(app, single_flight=True)  # the first fill: one computes, the others wait
    old = Highlights.model_validate_json(redis_client.get(highlights.KEY) or "")
    stale = old.model_copy(update={"computed_at": old.computed_at.replace(year=2020)})
    redis_client.set(highlights.KEY, stale.model_dump_json(), ex=600)
    before_recomputes, before_reads = recomputes(), reads()
    answers = read_at_once(app, single_flight=True)
    made, read = delta(recomputes(), before_recomputes), delta(reads(), before_reads)
    assert made == {"yes": 0, "no": 1}
    assert read["miss"] == 1 and read["stale"] + read["fresh"] == CONCURRENT - 1
    assert sum(a.computed_at.year == 2020 for a in answers) == read["stale"]
    assert (redis_client.ttl(highlights.KEY) or 0) > highlights.STALE_FOR_S  # outlives freshness


def test_a_stale_copy_read_before_another_request_refreshed_it_is_not_recomputed(
    make_app: AppFactory, redis_client: Redis
) -> None:
    """The race behind two recomputations in one lifetime: this request read the stale copy,
    then the lock's holder stored a fresh one and let go of the lock, then this request got it.
    """
    app = make_app()
    fresh = read_at_once(app, single_flight=True)[0]  # stored, fresh
    stale = fresh.model_copy(update={"computed_at": fresh.computed_at.replace(year=2020)})
    before = recomputes()
    with app.app_context():
        session = app.extensions["db_sessionmaker"]()
        try:
            cache = HighlightsCache(app.extensions["redis"], session, ttl_s=30)
            answer = cache._revalidate(stale)  # the lock is free: this request takes it
        finally:
            session.close()
    assert delta(recomputes(), before) == {"yes": 0, "no": 0}
    assert answer.computed_at == fresh.computed_at


def test_the_fixs_first_fill_computes_once(make_app: AppFactory) -> None:
    app = make_app()
    before = recomputes()
    answers = read_at_once(app, single_flight=True)
    assert delta(recomputes(), before) == {"yes": 0, "no": 1}
    assert len({a.computed_at for a in answers}) == 1  # the waiters got the one computed


def test_without_redis_the_page_is_computed_from_the_database(make_app: AppFactory) -> None:
    app = make_app(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    before = reads()
    response = app.test_client().get("/products/highlights")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert delta(reads(), before)["error"] == 1


@pytest.mark.parametrize("single_flight", [False, True])
def test_an_entry_this_version_cannot_read_is_recomputed(
    make_app: AppFactory, redis_client: Redis, single_flight: bool
) -> None:
    """An entry of another shape (stored by the previous release, mid-deploy) is no 500."""
    redis_client.set(highlights.KEY, '{"bestsellers": []}', ex=600)
    app = make_app()
    app.extensions["switches"].set(highlights.SWITCH, not single_flight)
    before = recomputes()
    response = app.test_client().get("/products/highlights")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert sum(delta(recomputes(), before).values()) == 1
    assert Highlights.model_validate_json(redis_client.get(highlights.KEY) or "").bestsellers


def test_a_cold_reader_gets_what_the_lock_holder_stores(
    make_app: AppFactory, redis_client: Redis
) -> None:
    app = make_app()
    stored = read_at_once(app, single_flight=True)[0]
    redis_client.delete(highlights.KEY)
    holder = redis_client.lock(highlights.LOCK_KEY, timeout=10)
    assert holder.acquire(blocking=False)  # another worker is computing it
    before = recomputes()
    reader = gevent.spawn(one_read, app)
    gevent.sleep(0.3)
    assert not reader.ready()  # waiting, not computing
    redis_client.set(highlights.KEY, stored.model_dump_json(), ex=600)
    holder.release()
    answer = reader.get(timeout=5)
    assert answer.computed_at == stored.computed_at
    assert delta(recomputes(), before) == {"yes": 0, "no": 0}


def test_a_cold_reader_computes_itself_when_the_holder_takes_too_long(
    make_app: AppFactory, redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(highlights, "COLD_WAIT_S", 0.3)
    app = make_app()
    holder = redis_client.lock(highlights.LOCK_KEY, timeout=10)
    assert holder.acquire(blocking=False)  # a holder that died, or a database that crawls
    try:
        before = recomputes()
        assert one_read(app).bestsellers
        assert sum(delta(recomputes(), before).values()) == 1
    finally:
        holder.release()


def test_an_answer_computed_is_returned_when_redis_fails_to_store_it(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()

    client = app.extensions["redis"]
    set_key = client.set

    def refuse_the_entry(name: str, *args: object, **kwargs: object) -> object:
        if name == highlights.KEY:  # the lock (SET NX) still works: the link drops just then
            raise RedisConnectionError("link dropped")
        return set_key(name, *args, **kwargs)

    monkeypatch.setattr(client, "set", refuse_the_entry)
    before_recomputes, before_reads = recomputes(), reads()
    assert one_read(app).bestsellers
    assert sum(delta(recomputes(), before_recomputes).values()) == 1  # computed once only
    assert delta(reads(), before_reads)["error"] == 0
