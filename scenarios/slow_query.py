"""slow-query: order history lazy-loads each order's items (an N+1), and its index is gone."""

from __future__ import annotations

from chaos.scenarios.model import (
    AnswerKey,
    Guide,
    HTTPProbe,
    Index,
    Link,
    LoadProfile,
    PromQLProbe,
    Scenario,
    Series,
    Switch,
)
from scenarios._common import (
    CATALOG_ANSWERS,
    LOCK_ORDER,
    N_PLUS_ONE,
    SESSION_LEAK,
    SLOW_DATABASE_LINK,
    error_ratio,
    quantile,
    rate,
)
from target_app.public import CUSTOMER_ID_BASE, customer_email

HISTORY_ROUTE = "/users/<int:user_id>/orders"
#: The index on orders.user_id: the one way to find a customer's orders without reading all.
USER_ORDERS_INDEX = "ix_orders_user_id"
_HISTORY = f'route="{HISTORY_ROUTE}"'
STATEMENTS_PER_HISTORY = (
    f"{rate(f'shop_db_queries_per_request_sum{{{_HISTORY}}}')} / "
    f"clamp_min({rate(f'shop_db_queries_per_request_count{{{_HISTORY}}}')}, 1e-9)"
)
# Sequential scans of `orders` per history request: 1 without the index (the count; the page
# walks the primary key backwards instead), none with it; nothing else scans `orders` whole.
# Over a 10 s rate window the ratio climbs to 1 within the window after the drop.
ORDERS_SEQ_SCANS = rate('faultyard_pg_table_seq_scans_total{table="orders"}')
SEQ_SCANS_PER_HISTORY = (
    f"{ORDERS_SEQ_SCANS} / clamp_min({rate(f'shop_http_requests_total{{{_HISTORY}}}')}, 1e-9)"
)
ORDERS_ROWS_READ = rate('faultyard_pg_table_seq_rows_read_total{table="orders"}')
HISTORY_P99 = quantile(0.99, "shop_http_request_duration_seconds", _HISTORY)

SCENARIO = Scenario(
    name="slow-query",
    title="Order history: one query per order, and a table read whole",
    difficulty="beginner",
    page=(
        "Since yesterday's release, regular customers say their order history takes ages to "
        "open. The database's CPU has doubled and keeps climbing with traffic; checkout and "
        "browsing look normal."
    ),
    faults=(
        Switch(name="lazy_order_history", value=True),
        # The release's migration lost the index (a schema fault: dropped CONCURRENTLY).
        Index(name=USER_ORDERS_INDEX, present=False),
    ),
    fix=(
        Switch(name="lazy_order_history", value=False),
        Index(name=USER_ORDERS_INDEX, present=True),
    ),
    load=LoadProfile(
        users=12,
        spawn_rate=12,
        duration_s=30,
        journeys={"HistoryReader": 8, "Browser": 2, "Buyer": 2},
    ),
    symptoms=(
        PromQLProbe(
            name="history_runs_many_statements",
            expr=STATEMENTS_PER_HISTORY,
            comparator=">",
            threshold=8,
            description="an order history request runs more than 8 SQL statements on average "
            "(4 load a page: the user, the count, the orders, their items)",
        ),
        PromQLProbe(
            name="history_reads_orders_sequentially",
            expr=SEQ_SCANS_PER_HISTORY,
            comparator=">=",
            threshold=0.5,
            description="sequential scans of the whole `orders` table, one for every two order "
            "history requests or more (pg_stat_user_tables, via the Faultyard exporter; with "
            "the index there are none)",
        ),
    ),
    slo=(
        PromQLProbe(
            name="history_statements_at_most_5",
            expr=STATEMENTS_PER_HISTORY,
            comparator="<=",
            threshold=5,
            description="an order history request runs 5 SQL statements or fewer on average",
        ),
        PromQLProbe(
            name="history_p99_below_500ms",
            expr=HISTORY_P99,
            comparator="<",
            threshold=0.5,
            description="order history p99 under 500 ms",
        ),
        PromQLProbe(
            name="history_errors_below_1pct",
            expr=error_ratio(HISTORY_ROUTE),
            comparator="<",
            threshold=0.01,
            description="fewer than 1 % of order history requests answer 5xx",
        ),
        HTTPProbe(
            name="history_answers",
            path=f"/users/{CUSTOMER_ID_BASE + 1}/orders?per_page=10",
            as_account=customer_email(CUSTOMER_ID_BASE + 1),
            expect_status=200,
            max_latency_s=1.0,
            description="a regular customer's order history answers 200 within a second",
        ),
        CATALOG_ANSWERS,
    ),
    key_series=(
        Series(title="SQL statements per order history request", expr=STATEMENTS_PER_HISTORY),
        Series(title="Sequential scans of orders/s", expr=ORDERS_SEQ_SCANS, unit="1/s"),
        Series(
            title="Rows of orders read by sequential scans/s", expr=ORDERS_ROWS_READ, unit="1/s"
        ),
        Series(title="Order history p99", expr=HISTORY_P99, unit="s"),
    ),
    guide=Guide(
        where_to_look=(
            "The Database dashboard (`faultyard dashboard database`): SQL statements per "
            "request by route (`shop_db_queries_per_request`; how often its most repeated "
            "statement ran, `shop_db_statement_repeats_per_request`), and the tables' sequential "
            "scans and rows read (`faultyard_pg_table_seq_scans_total`, "
            "`faultyard_pg_table_seq_rows_read_total`).",
            "`faultyard traces --slowest 5`: a `GET /users/<id>/orders` span whose children "
            "are a ladder of identical `SELECT ... FROM order_items WHERE ... = %(param_1)s` "
            "spans, one per order on the page: the shape of an N+1.",
            "In psql, the history's queries with their plans: `EXPLAIN (ANALYZE, BUFFERS) "
            f"SELECT count(*) FROM orders WHERE user_id = {CUSTOMER_ID_BASE + 1};` shows `Seq "
            "Scan on orders` with `Rows Removed by Filter` in the tens of thousands and "
            "`Buffers: shared hit=` the whole table, to count 30 rows; the page's `... ORDER "
            "BY id DESC LIMIT 10` walks the primary key backwards (`Index Scan Backward using "
            "orders_pkey`, `Filter: (user_id = ...)`) through every newer order.",
            "`SELECT relname, seq_scan, seq_tup_read, idx_scan FROM pg_stat_user_tables ORDER "
            "BY seq_tup_read DESC;` and `\\d orders`: the table has its primary key and "
            "unique constraints, and no index on `user_id`.",
        ),
        what_you_will_see=(
            "Statements per history request jump from 4 to 13 (a page of 10 orders: the user, "
            "the count, the orders, then one `SELECT` of items per order).",
            "A sequential scan of the whole `orders` table per history request (the count), "
            "rows read by sequential scans in the hundreds of thousands per second where there "
            "were none, and the page's query walking the primary key through every newer order.",
            "History latency up, growing with the table; checkout and browsing unaffected. "
            "Nothing fails: no error, no lock, no slow network. Just more work per request.",
        ),
        root_cause=(
            "Two classic query bugs shipped together. The history endpoint builds its page "
            "from the orders and leaves their items to load lazily, so each order on the page "
            "costs one more round trip (`SELECT ... FROM order_items WHERE order_id = ?`): "
            "N+1 statements for N orders, harmless in a test with two orders, costly with "
            "real pages. And the release's migration dropped the index on `orders.user_id`, "
            "so finding one customer's orders, and counting them, reads the whole table: the "
            "cost of each history request now grows with every order anyone places."
        ),
        fix=(
            "Load the items with the orders: SQLAlchemy's `selectinload(Order.items)` runs "
            "one `SELECT ... WHERE order_id IN (...)` for the whole page (or `joinedload` for "
            "a single JOIN); SQLAlchemy's `raiseload` makes an accidental lazy load fail in "
            "tests instead of running in production. Put the index back without blocking "
            "writes: `CREATE INDEX CONCURRENTLY ix_orders_user_id ON orders (user_id);` (an "
            "index on `(user_id, id)` also serves the `ORDER BY id DESC LIMIT`), then compare "
            "`EXPLAIN (ANALYZE, BUFFERS)`: an index scan reading a few buffers. Here: "
            "`faultyard switch lazy_order_history off` and `faultyard reset` (which rebuilds "
            "the index), or `make scenario slow-query FIXED=1`."
        ),
        further_reading=(
            Link(
                title="PostgreSQL: Using EXPLAIN",
                url="https://www.postgresql.org/docs/current/using-explain.html",
            ),
            Link(
                title="PostgreSQL: CREATE INDEX (building indexes concurrently)",
                url="https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY",
            ),
            Link(
                title="PostgreSQL: pg_stat_user_tables (the cumulative statistics system)",
                url="https://www.postgresql.org/docs/current/monitoring-stats.html",
            ),
            Link(
                title="SQLAlchemy: relationship loading techniques (lazy, selectin, raise)",
                url="https://docs.sqlalchemy.org/en/20/orm/queryguide/relationships.html",
            ),
        ),
    ),
    answer=AnswerKey(
        component="database",
        related_components=("shop",),
        root_cause="n-plus-one-and-missing-index",
        keywords=("n+1", "lazy load", "index", "sequential scan", "selectinload", "explain"),
        choices=(
            N_PLUS_ONE,
            SLOW_DATABASE_LINK,
            SESSION_LEAK,
            LOCK_ORDER,
        ),
        correct_choice=0,
    ),
)
