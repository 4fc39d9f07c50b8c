"""`lazy_order_history` and the seeded history: an N+1 on the real database, and its fix."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Engine, text

from target_app.public import CUSTOMER_ID_BASE, CUSTOMERS
from target_app.seed_data import ORDERS_PER_CUSTOMER
from target_app.seed_history import seed_history
from tests.conftest import AppFactory, recorded_statements
from tests.target_app.metrics_text import value

CUSTOMER = CUSTOMER_ID_BASE + 7
PAGE = 10
REPEATS = "shop_db_statement_repeats_per_request"
HISTORY_ROUTE = "/users/<int:user_id>/orders"


def history_statements(app: Flask) -> list[str]:
    client = app.test_client(user_id=CUSTOMER)
    with recorded_statements(app) as seen:
        response = client.get(f"/users/{CUSTOMER}/orders?per_page={PAGE}")
    assert response.status_code == 200
    page = response.get_json()
    assert page["total"] == ORDERS_PER_CUSTOMER and len(page["items"]) == PAGE
    assert all(len(order["items"]) == 2 for order in page["items"])
    return seen


def test_the_seed_gives_each_customer_a_paid_history(db: Engine) -> None:
    with db.connect() as conn:
        # Fresh statistics: the suite's earlier runs grow these tables by tens of thousands of rows.
        conn.execute(text("ANALYZE users, orders, order_items"))
        customers, orders, lines, wrong_totals = conn.execute(
            text(
                # One pass of joins and one GROUP BY, no subquery per row (which, after the
                # whole suite had run before it, once took two minutes in CI).
                "SELECT count(DISTINCT o.user_id), count(*), coalesce(sum(i.lines), 0), "
                "count(*) FILTER (WHERE o.total_cents <> i.total) "
                "FROM orders o JOIN (SELECT order_id, count(*) AS lines, "
                "  sum(quantity * unit_price_cents) AS total FROM order_items GROUP BY order_id) i "
                "ON i.order_id = o.id WHERE o.user_id > :base AND o.status = 'paid' "
                # The seed's history is 17 days old and more; the Locust shoppers are
                # customers too, and their orders of the day are not the seed's.
                "AND o.created_at < LOCALTIMESTAMP - interval '1 day'"
            ),
            {"base": CUSTOMER_ID_BASE},
        ).one()
    assert customers == CUSTOMERS
    assert orders == CUSTOMERS * ORDERS_PER_CUSTOMER
    assert lines == 2 * orders
    assert wrong_totals == 0
    with db.begin() as conn:
        assert seed_history(conn) == 0  # seeding again makes nothing


def test_lazy_history_runs_one_select_per_listed_order(make_app: AppFactory) -> None:
    app = make_app()
    app.extensions["switches"].set("lazy_order_history", True)

    seen = history_statements(app)

    per_order = [s for s in seen if "FROM order_items" in s]
    assert len(per_order) == PAGE  # one lazy load per order on the page
    assert len(seen) == 3 + PAGE  # the user, the count and the page, then the N


def test_the_fix_loads_the_pages_items_in_one_select(make_app: AppFactory) -> None:
    app = make_app()
    app.extensions["switches"].set("lazy_order_history", False)

    seen = history_statements(app)

    assert len([s for s in seen if "FROM order_items" in s]) == 1
    assert len(seen) == 4


def most_repeated_statement(app: Flask) -> float:
    """Return what the history request recorded as its most repeated statement's run count."""
    client = app.test_client(user_id=CUSTOMER)
    before = client.get("/metrics").get_data(as_text=True)
    history_statements(app)
    after = client.get("/metrics").get_data(as_text=True)
    count, total = (
        value(after, f"{REPEATS}_{part}", route=HISTORY_ROUTE)
        - value(before, f"{REPEATS}_{part}", route=HISTORY_ROUTE)
        for part in ("count", "sum")
    )
    assert count == 1
    return total


def test_the_n_plus_one_shows_as_one_statement_repeated_per_listed_order(
    make_app: AppFactory,
) -> None:
    """The RepeatedStatements alert's metric: the lazy load runs PAGE times, the fix once."""
    app = make_app()
    app.extensions["switches"].set("lazy_order_history", True)
    assert most_repeated_statement(app) == PAGE
    app.extensions["switches"].set("lazy_order_history", False)
    assert most_repeated_statement(app) == 1
