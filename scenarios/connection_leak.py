"""connection-leak: a failed checkout never closes its session, so the pool runs dry."""

from __future__ import annotations

from chaos.scenarios.model import (
    AnswerKey,
    Guide,
    HTTPProbe,
    Link,
    LoadProfile,
    PromQLProbe,
    Reload,
    Scenario,
    Series,
    SQLProbe,
    Switch,
)
from scenarios._common import (
    CATALOG_ANSWERS,
    FEW_ERRORS,
    LOCK_ORDER,
    NO_OVERSOLD_STOCK,
    POOL_LIMIT,
    POOL_TIMEOUT_S,
    SESSION_LEAK,
    SLOW_DATABASE_LINK,
    quantile,
    rate,
)

TIMEOUTS = rate("shop_db_pool_checkout_timeouts_total")
#: Shop connections left idle inside a transaction for more than a few seconds: leaked ones.
STUCK_IDLE_IN_TRANSACTION = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database()
  AND application_name = 'faultyard-shop'
  AND state = 'idle in transaction'
  AND state_change < now() - interval '5 seconds'
"""

SCENARIO = Scenario(
    name="connection-leak",
    title="A failed checkout leaks its database connection",
    difficulty="intermediate",
    page=(
        "The shop is falling over: it started with a few slow errors, and now product pages, "
        f"carts and checkouts hang for about {POOL_TIMEOUT_S:g} seconds and answer 503. "
        "The database itself reports almost no load. Restarting the shop helps for a while."
    ),
    faults=(Switch(name="leak_session_on_error", value=True),),
    fix=(Switch(name="leak_session_on_error", value=False),),
    # Connections already leaked stay checked out after the switch goes off: a graceful
    # reload replaces the workers that hold them (as a restart does in production).
    rollbacks=(Reload(service="app"),),
    load=LoadProfile(
        users=20,
        spawn_rate=10,
        duration_s=40,
        # GreedyBuyer asks for more units than there are: its checkouts fail (409), the error path.
        journeys={"GreedyBuyer": 5, "Browser": 4, "Buyer": 2, "HistoryReader": 1},
    ),
    symptoms=(
        PromQLProbe(
            name="pool_checked_out_at_limit",
            expr="sum(shop_db_pool_checked_out)",
            comparator=">=",
            threshold=POOL_LIMIT,
            description=f"at least one shop process has its whole pool checked out "
            f"(pool_size + max_overflow = {POOL_LIMIT})",
        ),
        PromQLProbe(
            name="pool_checkout_timeouts",
            expr=TIMEOUTS,
            comparator=">",
            threshold=0,
            description="requests give up waiting for a pooled connection after pool_timeout",
        ),
        PromQLProbe(
            name="catalog_failing",
            expr=rate('shop_http_requests_total{route="/products/<int:product_id>",status="503"}'),
            comparator=">",
            threshold=0,
            description="routes that never fail by themselves (product detail) answer 503",
        ),
        SQLProbe(
            name="connections_idle_in_transaction",
            sql=STUCK_IDLE_IN_TRANSACTION,
            comparator=">=",
            threshold=POOL_LIMIT,
            description="shop connections sit idle inside an open transaction for seconds",
        ),
        HTTPProbe(
            name="readiness_fails",
            path="/readyz",
            expect_status=503,
            timeout_s=POOL_TIMEOUT_S + 5,
            description="readiness answers 503: even its `SELECT 1` cannot get a connection",
        ),
    ),
    slo=(
        PromQLProbe(
            name="no_pool_timeouts",
            expr=f"{TIMEOUTS} or vector(0)",
            comparator="==",
            threshold=0,
            description="no request times out waiting for a pooled connection",
        ),
        PromQLProbe(
            name="pool_has_headroom",
            expr="sum(shop_db_pool_checked_out)",
            comparator="<",
            threshold=POOL_LIMIT,
            description="connections checked out stay below one process's pool limit",
        ),
        FEW_ERRORS,
        SQLProbe(
            name="no_stuck_transactions",
            sql=STUCK_IDLE_IN_TRANSACTION,
            comparator="==",
            threshold=0,
            description="no shop connection idles inside a transaction for more than 5 s",
        ),
        NO_OVERSOLD_STOCK,
        CATALOG_ANSWERS,
    ),
    key_series=(
        Series(title="Pool connections checked out", expr="sum(shop_db_pool_checked_out)"),
        Series(title="Pool checkout timeouts/s", expr=TIMEOUTS, unit="1/s"),
        Series(
            title="Pool checkout wait p99",
            expr=quantile(0.99, "shop_db_pool_checkout_wait_seconds"),
            unit="s",
        ),
        Series(
            title="Sessions idle in transaction",
            expr="sum(pg_idle_in_transaction_count)",
        ),
        Series(
            title="Responses/s by status",
            expr="sum by (status) (rate(shop_http_requests_total[10s]))",
            unit="1/s",
        ),
    ),
    guide=Guide(
        where_to_look=(
            "The Database dashboard: pool connections checked out, pool checkout wait and "
            "timeouts (`shop_db_pool_*`), and PostgreSQL connections by state.",
            "PostgreSQL's own view: `SELECT pid, state, xact_start, state_change, query FROM "
            "pg_stat_activity WHERE application_name = 'faultyard-shop';` lists the shop's "
            "connections; the leaked ones are `idle in transaction` and their `query` is the "
            "last statement the failed checkout ran.",
            "`faultyard logs app --grep pool`: `database connection pool exhausted` errors, and "
            "the first failures before them (checkouts refused as out of stock).",
            "`/admin/errors` (loopback, admin token): the recent checkout failures, the ones the "
            "shop keeps for debugging.",
            "`faultyard traces --slowest 10`: requests that spend "
            f"{POOL_TIMEOUT_S:g} s before their first SQL span: waiting for the pool, not the database.",
        ),
        what_you_will_see=(
            "`shop_db_pool_checked_out` climbing in steps with each failed checkout and never "
            "coming back down, until every process sits at pool_size + max_overflow.",
            f"Then `shop_db_pool_checkout_timeouts_total` rising and requests answering 503 "
            f"after exactly pool_timeout ({POOL_TIMEOUT_S:g} s): `QueuePool limit of size 5 "
            "overflow 5 reached, connection timed out`.",
            "Every route that needs the database failing, product pages included, while "
            "`/healthz` (no database) stays instant and `/readyz` answers 503.",
            "PostgreSQL almost idle: the connections are open but `idle in transaction`, "
            "`pg_idle_in_transaction_oldest_seconds` growing; no lock waits, no slow queries.",
        ),
        root_cause=(
            "Checkout opens a session of its own. On the error path (a product out of stock) it "
            "raises without closing that session, so the transaction it began stays open and its "
            "pooled connection stays checked out. The shop keeps recent failures for debugging; "
            "each kept exception holds its traceback, whose frames hold the session, so garbage "
            "collection never returns the connection either. Each failed checkout costs one "
            "connection for good, and once a process has leaked pool_size + max_overflow of them "
            "every request in that process waits pool_timeout and fails. It is a slow leak at "
            "first (it needs errors to happen), then a sudden outage; a restart looks like a fix "
            "because it returns every connection."
        ),
        fix=(
            "Release the session on every path: `try: ... finally: session.close()`, or better "
            "`with Session(engine) as session, session.begin():`, which commits or rolls back "
            "and closes whatever happens. Keeping exceptions is fine once nothing they reference "
            "holds a resource. As a safety net, PostgreSQL's `idle_in_transaction_session_timeout` "
            "closes sessions left idle in a transaction, and SQLAlchemy's pool "
            "(`pool_pre_ping`, `pool_recycle`) replaces broken connections; neither replaces "
            "closing the session. Here: `faultyard switch leak_session_on_error off` stops new "
            "leaks (connections already leaked come back as their failures are forgotten), or "
            "`make scenario connection-leak FIXED=1`."
        ),
        further_reading=(
            Link(
                title="SQLAlchemy: Connection Pooling (QueuePool, pool_size, max_overflow, pool_timeout)",
                url="https://docs.sqlalchemy.org/en/20/core/pooling.html",
            ),
            Link(
                title="SQLAlchemy: Session basics, opening and closing a Session",
                url="https://docs.sqlalchemy.org/en/20/orm/session_basics.html#opening-and-closing-a-session",
            ),
            Link(
                title="SQLAlchemy error: QueuePool limit of size reached, connection timed out (3o7r)",
                url="https://docs.sqlalchemy.org/en/20/errors.html#error-3o7r",
            ),
            Link(
                title="PostgreSQL: pg_stat_activity (state, idle in transaction)",
                url="https://www.postgresql.org/docs/current/monitoring-stats.html#MONITORING-PG-STAT-ACTIVITY-VIEW",
            ),
            Link(
                title="PostgreSQL: idle_in_transaction_session_timeout",
                url="https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-IDLE-IN-TRANSACTION-SESSION-TIMEOUT",
            ),
        ),
    ),
    answer=AnswerKey(
        component="shop",
        related_components=("database",),
        root_cause="session-leak",
        keywords=("leak", "not closed", "never closed", "not returned", "session close"),
        choices=(
            SESSION_LEAK,
            LOCK_ORDER,
            SLOW_DATABASE_LINK,
            "The pool is too small for the traffic and needs to be made larger",
        ),
        correct_choice=0,
    ),
)
