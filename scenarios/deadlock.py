"""deadlock: checkouts lock product rows in cart order, so crossed carts deadlock in PostgreSQL."""

from __future__ import annotations

from chaos.scenarios.model import (
    AnswerKey,
    Guide,
    Link,
    LoadProfile,
    PromQLProbe,
    Scenario,
    Series,
    Setting,
    Switch,
)
from scenarios._common import (
    CATALOG_ANSWERS,
    CHECKOUT_P99,
    CHECKOUTS_BY_OUTCOME,
    LOCK_ORDER,
    NO_OVERSOLD_STOCK,
    POSTGRES_LOG,
    RETRY_STORM,
    SESSION_LEAK,
    SHOP_DB,
    SLOW_DATABASE_LINK,
    few_checkout_errors,
    rate,
)

DEADLOCKS = rate(f'pg_stat_database_deadlocks{{datname="{SHOP_DB}"}}')

SCENARIO = Scenario(
    name="deadlock",
    title="Checkouts lock product rows in cart order",
    difficulty="intermediate",
    page=(
        "Checkout errors are climbing during the sale. Some shoppers get a 503 telling them "
        "to try again, and the checkouts that fail hang for about a second first. Browsing "
        "and carts are fine."
    ),
    faults=(
        Switch(name="lock_in_cart_order", value=True),
        # A slow step between row locks (pricing, a fraud check), as in production.
        Setting(name="checkout_lock_pause_ms", value=10),
    ),
    fix=(Switch(name="lock_in_cart_order", value=False),),
    load=LoadProfile(
        # Two cores: more shoppers make the fixed code path queue for hot rows past 1 s.
        users=12,
        spawn_rate=12,
        duration_s=30,
        # ContendedBuyer fills carts with the same few "hot" products in random order.
        journeys={"ContendedBuyer": 8, "Buyer": 1, "Browser": 2, "StockWatcher": 1},
    ),
    symptoms=(
        PromQLProbe(
            name="postgres_deadlocks",
            expr=DEADLOCKS,
            comparator=">",
            threshold=0,
            description="PostgreSQL is breaking deadlocks in the shop database",
        ),
        PromQLProbe(
            name="checkout_deadlock_errors",
            expr=rate('shop_checkouts_total{outcome="deadlock"}'),
            comparator=">",
            threshold=0,
            description="checkouts fail with SQLSTATE 40P01 (answered as 503)",
        ),
        PromQLProbe(
            name="checkout_p99_near_deadlock_timeout",
            expr=CHECKOUT_P99,
            comparator=">=",
            threshold=1.0,
            description="checkout p99 reaches deadlock_timeout (1 s): a deadlock is only "
            "detected after a backend has waited that long (checkouts that merely queue for "
            "a hot row stay under it)",
        ),
    ),
    slo=(
        PromQLProbe(
            name="no_deadlocks",
            expr=f"{DEADLOCKS} or vector(0)",
            comparator="==",
            threshold=0,
            description="no deadlocks in the shop database",
        ),
        few_checkout_errors(),
        PromQLProbe(
            name="checkout_p99_below_deadlock_timeout",
            expr=CHECKOUT_P99,
            comparator="<",
            threshold=1.0,
            description="checkout p99 under deadlock_timeout (1 s): checkouts still queue "
            "for hot rows, but none waits out a deadlock",
        ),
        NO_OVERSOLD_STOCK,
        CATALOG_ANSWERS,
    ),
    key_series=(
        Series(title="Deadlocks/s (shop database)", expr=DEADLOCKS, unit="1/s"),
        CHECKOUTS_BY_OUTCOME,
        Series(title="Checkout p99", expr=CHECKOUT_P99, unit="s"),
        Series(title="Backends waiting for a lock", expr="sum(pg_lock_waits_waiting)"),
    ),
    guide=Guide(
        where_to_look=(
            "The Database dashboard (`faultyard dashboard database`): the deadlock rate "
            "(`rate(pg_stat_database_deadlocks[1m])`) and the backends waiting for a lock.",
            'The Overview dashboard: checkouts by outcome (`shop_checkouts_total{outcome="deadlock"}`) '
            "and checkout latency; every other route stays healthy.",
            "`faultyard logs postgres --grep deadlock`: PostgreSQL logs each deadlock it breaks, "
            "with DETAIL lines naming both processes, the lock each waited for and their statements.",
            "`faultyard logs app --grep 40P01`: the shop's JSON log carries the SQLSTATE of every "
            "failed checkout; `/admin/errors` (loopback, admin token) lists the last failures.",
            "`faultyard traces --slowest 10`: a failed checkout spends about a second in one "
            "`SELECT ... FOR UPDATE` span before its error.",
            "While it happens, in psql: `SELECT pid, pg_blocking_pids(pid), wait_event_type, query "
            "FROM pg_stat_activity WHERE wait_event_type = 'Lock';` shows who waits on whom.",
        ),
        what_you_will_see=(
            "`pg_stat_database_deadlocks` for the shop database climbing steadily under load.",
            "Checkouts answering 503 `deadlock detected, try again` with `sqlstate: 40P01`; "
            "the other outcomes (ok, out_of_stock) unchanged.",
            "Checkout p99 near 1 s, PostgreSQL's `deadlock_timeout`: the victim waits that long "
            "before the deadlock detector runs, and so does the transaction it was blocking.",
            "In the PostgreSQL log: `ERROR: deadlock detected`, then `Process A waits for ShareLock "
            "on transaction X; blocked by process B. Process B waits for ShareLock on transaction Y; "
            "blocked by process A.` and the two `SELECT ... FOR UPDATE` statements on `products`.",
            "Catalog and order-history routes unaffected. Adding a hot product to a cart can "
            "wait, and now and then join a cycle: the foreign-key check on `cart_items` locks the "
            "product row FOR KEY SHARE, which conflicts with checkout's FOR UPDATE.",
        ),
        root_cause=(
            "Checkout locks each product in the cart with `SELECT ... FOR UPDATE`, one row at a time, "
            "in the order the shopper added them. Two carts holding the same products in opposite "
            "order (A then B, and B then A) checked out at once each take their first lock and then "
            "wait for the other's: a cycle no one can leave. PostgreSQL notices after "
            "`deadlock_timeout` (1 s) and aborts one of the transactions with SQLSTATE 40P01; the "
            "other goes on. The more shoppers buy the same popular products at the same time, "
            "the more often it happens, which is why it shows up during a sale and never in tests."
        ),
        fix=(
            "Take row locks in one global order. Sorting the product ids before locking them "
            "(or locking them all in one `SELECT ... WHERE id = ANY(:ids) ORDER BY id FOR UPDATE`) "
            "means every transaction waits in the same direction, so no cycle can form: checkouts "
            "of the same hot product still queue behind each other, but they never deadlock. Keep "
            "the transaction short (no slow calls while holding locks), and retry the whole "
            "transaction once on 40P01 as defence in depth. Here: `faultyard switch "
            "lock_in_cart_order off`, or `make scenario deadlock FIXED=1` to watch the same load "
            "run with sorted locking."
        ),
        further_reading=(
            Link(
                title="PostgreSQL: Explicit Locking, Deadlocks",
                url="https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-DEADLOCKS",
            ),
            Link(
                title="PostgreSQL: the locking clause of SELECT (FOR UPDATE)",
                url="https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE",
            ),
            Link(
                title="PostgreSQL: lock management settings (deadlock_timeout)",
                url="https://www.postgresql.org/docs/current/runtime-config-locks.html",
            ),
            Link(
                title="PostgreSQL: pg_stat_database (the deadlocks column)",
                url="https://www.postgresql.org/docs/current/monitoring-stats.html#MONITORING-PG-STAT-DATABASE-VIEW",
            ),
            Link(
                title="PostgreSQL: pg_locks",
                url="https://www.postgresql.org/docs/current/view-pg-locks.html",
            ),
            Link(
                title="PostgreSQL: error codes (40P01 deadlock_detected)",
                url="https://www.postgresql.org/docs/current/errcodes-appendix.html",
            ),
            POSTGRES_LOG,
        ),
    ),
    answer=AnswerKey(
        component="shop",
        related_components=("database",),
        root_cause="lock-order-deadlock",
        keywords=("deadlock", "lock order", "locking order", "40P01", "sorted lock"),
        choices=(
            f"{LOCK_ORDER}; PostgreSQL aborts one transaction of each cycle",
            SESSION_LEAK,
            SLOW_DATABASE_LINK,
            RETRY_STORM,
        ),
        correct_choice=0,
    ),
)
