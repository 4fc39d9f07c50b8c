"""index on the session's stack: ix_orders_user_id dropped, the plan changes, then rebuilt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from chaos.faults import Index
from chaos.faults.index import IndexFaultError, concurrently
from chaos.faults.injector import Injector
from chaos.stack.manager import Stack
from target_app.public import CUSTOMER_ID_BASE
from tests.chaos.test_exporter import scrape, value

NAME = "ix_orders_user_id"
DROPPED = Index(name=NAME, present=False)
# The history's count of a customer's orders: without the index, it reads the whole table.
HISTORY_COUNT = "SELECT count(*) FROM orders WHERE user_id = :user"


@pytest.fixture
def injector(stack: Stack) -> Iterator[Injector]:
    injector = Injector(stack)
    yield injector
    Index(name=NAME, present=True).revert(injector.ctx)  # whatever a failed test left


def plan(db: Engine) -> str:
    with db.connect() as conn:
        rows = conn.execute(text(f"EXPLAIN {HISTORY_COUNT}"), {"user": CUSTOMER_ID_BASE + 1})
        return "\n".join(r[0] for r in rows)


def exists(db: Engine) -> bool:
    with db.connect() as conn:
        return bool(
            conn.execute(
                text("SELECT count(*) FROM pg_indexes WHERE indexname = :n"), {"n": NAME}
            ).scalar_one()
        )


def index_fault_shown(stack: Stack) -> float | None:
    samples = scrape(stack.settings.exporter_url)
    return value(samples, "faultyard_fault_active", kind="index", target="postgres", name=NAME)


def test_dropping_the_index_turns_the_history_query_into_a_sequential_scan(
    stack: Stack, db: Engine, injector: Injector
) -> None:
    assert NAME in plan(db)
    said = injector.apply(DROPPED)
    assert said.startswith(f"dropped index {NAME} (CREATE INDEX {NAME} ON public.orders")
    assert not exists(db)
    assert "Seq Scan on orders" in plan(db)  # or a parallel one
    assert index_fault_shown(stack) == 1.0  # dashboards annotate the fault window
    assert injector.apply(DROPPED) == f"index {NAME} dropped already"

    assert injector.revert(DROPPED) == f"rebuilt index {NAME}"
    assert exists(db)
    assert NAME in plan(db)
    assert injector.revert(DROPPED) == f"index {NAME} present"  # idempotent
    assert index_fault_shown(stack) is None


def test_the_sweep_rebuilds_an_index_a_killed_run_left_dropped(
    db: Engine, injector: Injector
) -> None:
    injector.apply(DROPPED)
    assert Index.sweep(injector.ctx) == [f"index {NAME} dropped: rebuilt index {NAME}"]
    assert exists(db)
    assert Index.sweep(injector.ctx) == []


def test_the_fixed_step_leaves_the_index_in_place(db: Engine, injector: Injector) -> None:
    assert injector.apply(Index(name=NAME, present=True)) == f"index {NAME} present"
    assert exists(db)


def test_an_unknown_index_is_refused(injector: Injector) -> None:
    with pytest.raises(IndexFaultError, match="no index named 'ix_nothing'"):
        injector.apply(Index(name="ix_nothing", present=False))


def test_concurrently_keeps_unique_and_refuses_what_is_no_index() -> None:
    assert concurrently("CREATE UNIQUE INDEX a ON public.t USING btree (x)") == (
        "CREATE UNIQUE INDEX CONCURRENTLY a ON public.t USING btree (x)"
    )
    with pytest.raises(IndexFaultError):
        concurrently("DROP TABLE t")
