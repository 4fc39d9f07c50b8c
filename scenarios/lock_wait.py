"""lock-wait: repricing calls a slow pricing service while it holds a product's row lock."""

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
    LOCK_ORDER,
    POSTGRES_LOG,
    SESSION_LEAK,
    SLOW_CALL_HOLDING_LOCKS,
    SLOW_DATABASE_LINK,
    few_checkout_errors,
    rate,
)

#: The pricing service's answer time once it degrades: every lock held across it is held this long.
PRICING_CALL_MS = 6000
# Sampled once a scrape, a hold that keeps coming back: the highest reading of the last 5 s.
IDLE_IN_TRANSACTION_S = "max(max_over_time(pg_idle_in_transaction_oldest_seconds[5s]))"
LOCK_WAIT_S = "max(max_over_time(pg_lock_waits_oldest_seconds[5s]))"
# Adding a locked product to a cart waits too: the cart line's foreign key check takes FOR KEY
# SHARE on the product row, which FOR UPDATE blocks. Counted from the histogram's 2 s bucket,
# not read off a quantile: a quantile interpolates inside a bucket, so "p99 above 2 s" hangs on
# how many fast requests share the window.
_CART_WRITES = 'method="POST",route=~"/carts/<int:cart_id>/(items|checkout)"'
_ALL_CART_WRITES = rate("shop_http_request_duration_seconds_count{" + _CART_WRITES + "}")
_WITHIN_2S = rate("shop_http_request_duration_seconds_bucket{" + _CART_WRITES + ',le="2.0"}')
SLOW_CART_WRITES = f"{_ALL_CART_WRITES} - {_WITHIN_2S}"

SCENARIO = Scenario(
    name="lock-wait",
    title="A slow remote call inside a transaction holding row locks",
    difficulty="intermediate",
    page=(
        "Adding this week's best sellers to a cart, or checking them out, hangs for several "
        "seconds, and some shoppers give up; other products sell normally and browsing is "
        "fast. The database's CPU is idle, and nothing was deployed today."
    ),
    faults=(
        Setting(name="pricing_call_ms", value=PRICING_CALL_MS),
        Switch(name="external_call_in_transaction", value=True),
    ),
    fix=(Switch(name="external_call_in_transaction", value=False),),
    load=LoadProfile(
        users=12,
        spawn_rate=12,
        duration_s=30,
        # Merchants reprice the hot products that ContendedBuyers are buying.
        journeys={"ContendedBuyer": 7, "Merchant": 2, "Browser": 2, "Buyer": 1},
    ),
    symptoms=(
        PromQLProbe(
            name="idle_in_transaction_for_seconds",
            expr=IDLE_IN_TRANSACTION_S,
            comparator=">=",
            threshold=2.0,
            description="a shop connection sits idle inside an open transaction for 2 s or "
            "more (the shop's own transactions take milliseconds)",
        ),
        PromQLProbe(
            name="backends_wait_seconds_for_a_lock",
            expr=LOCK_WAIT_S,
            comparator=">=",
            threshold=2.0,
            description="a backend has waited 2 s or more for a row lock (pg_locks, not granted)",
        ),
        PromQLProbe(
            name="cart_writes_take_over_2s",
            expr=SLOW_CART_WRITES,
            comparator=">",
            threshold=0,
            description="adding to a cart or checking out took more than 2 s, in the last 10 s "
            "(each takes milliseconds): both wait for the locked product's remote call to end",
        ),
    ),
    slo=(
        PromQLProbe(
            name="no_transaction_idle_for_1s",
            expr=f"({IDLE_IN_TRANSACTION_S}) or vector(0)",
            comparator="<",
            threshold=1.0,
            description="no shop transaction sits idle for a second",
        ),
        PromQLProbe(
            name="checkout_p99_below_1s",
            expr=CHECKOUT_P99,
            comparator="<",
            threshold=1.0,
            description="checkout p99 under a second",
        ),
        few_checkout_errors(),
        CATALOG_ANSWERS,
    ),
    key_series=(
        Series(title="Oldest idle-in-transaction session", expr=IDLE_IN_TRANSACTION_S, unit="s"),
        Series(title="Longest lock wait", expr=LOCK_WAIT_S, unit="s"),
        Series(title="Backends waiting for a lock", expr="sum(pg_lock_waits_waiting)"),
        Series(title="Checkout p99", expr=CHECKOUT_P99, unit="s"),
        Series(title="Cart writes over 2 s per second", expr=SLOW_CART_WRITES, unit="1/s"),
    ),
    guide=Guide(
        where_to_look=(
            "The Database dashboard (`faultyard dashboard database`): backends waiting for a "
            "lock, the longest wait, and the oldest idle-in-transaction session; the alert "
            "`PostgresLockWaits` fires once a wait passes 5 s.",
            "While it happens, in psql: `SELECT pid, pg_blocking_pids(pid) AS blocked_by, "
            "wait_event_type, now() - query_start AS waiting, query FROM pg_stat_activity WHERE "
            "wait_event_type = 'Lock';` names the blocking backend, then `SELECT pid, state, "
            "now() - xact_start AS open_for, query FROM pg_stat_activity WHERE pid = <blocker>;` "
            "shows it `idle in transaction`, its last statement a `SELECT ... FOR UPDATE` on "
            "`products`.",
            "`faultyard logs postgres --grep 'still waiting'`: with `log_lock_waits` on, "
            "PostgreSQL logs every wait longer than `deadlock_timeout` (1 s), with the "
            "blocking process id.",
            "`faultyard traces --slowest 10`: a `POST /products/<id>/reprice` span that lasts "
            "the pricing call, its `SELECT ... FOR UPDATE` at the very start; add-to-cart spans "
            "spending seconds in one `INSERT INTO cart_items` and checkout spans in one "
            "`SELECT ... FOR UPDATE`.",
        ),
        what_you_will_see=(
            "Adding the hot products to a cart and checking them out queueing for seconds (up "
            "to the pricing call's 6 s), while other products and every read stay fast.",
            "Add-to-cart waits although it only inserts a cart line: the line's foreign key "
            "check takes `FOR KEY SHARE` on the product row, which `FOR UPDATE` blocks. An "
            "update that does not change the key takes `FOR NO KEY UPDATE`, which would not.",
            "A shop session `idle in transaction` for seconds at a time, over and over: it is "
            "not running a query, it is waiting on something outside the database while "
            "holding a lock.",
            "PostgreSQL itself idle: no CPU, no slow query. Lock waits are not slow queries, "
            "so `pg_stat_statements` or a slow-query log shows little.",
        ),
        root_cause=(
            "The merchants' price sync (`POST /products/<id>/reprice`) locks the product row "
            "(`SELECT ... FOR UPDATE`) and then, inside the same transaction, calls the pricing "
            "service. While that call is in flight the transaction is open and idle, and it "
            "keeps the row lock: every checkout of that product needs the same lock to "
            "decrement the stock, and every new cart line of it a key-share lock for its "
            "foreign key check, so both wait for the remote call to end. When the pricing "
            "service slows down (here from 50 ms to 6 s), the wait reaches every buyer of the "
            "products being repriced: the database is healthy, the transaction boundary is "
            "in the wrong place."
        ),
        fix=(
            "Never make a remote call (HTTP, a queue, a slow computation) inside a database "
            "transaction that holds locks. Ask the pricing service first, with no transaction "
            "open, then save the result in a short transaction, only if the price has not "
            "changed meanwhile (`UPDATE ... WHERE price_cents = :seen`), with `SET LOCAL "
            "lock_timeout` so that it gives up rather than queue. As defence in depth, give "
            "the application's role limits: `ALTER ROLE faultyard SET "
            "idle_in_transaction_session_timeout = '5s'` (PostgreSQL ends a session idle in "
            "a transaction for longer) and `ALTER ROLE faultyard SET lock_timeout = '2s'`. Here: "
            "`faultyard switch external_call_in_transaction off`, or `make scenario lock-wait "
            "FIXED=1`."
        ),
        further_reading=(
            Link(
                title="PostgreSQL: Explicit Locking (row-level locks)",
                url="https://www.postgresql.org/docs/current/explicit-locking.html",
            ),
            Link(
                title="PostgreSQL: pg_blocking_pids() and other system information functions",
                url="https://www.postgresql.org/docs/current/functions-info.html",
            ),
            Link(
                title="PostgreSQL: idle_in_transaction_session_timeout and lock_timeout",
                url="https://www.postgresql.org/docs/current/runtime-config-client.html",
            ),
            Link(
                title="PostgreSQL: pg_stat_activity",
                url="https://www.postgresql.org/docs/current/monitoring-stats.html#MONITORING-PG-STAT-ACTIVITY-VIEW",
            ),
            POSTGRES_LOG,
        ),
    ),
    answer=AnswerKey(
        component="shop",
        related_components=("database", "external-service"),
        root_cause="remote-call-holding-row-lock",
        keywords=("idle in transaction", "lock", "remote call", "transaction", "pricing"),
        choices=(
            f"{SLOW_CALL_HOLDING_LOCKS}; checkouts of those products queue behind it",
            LOCK_ORDER,
            SESSION_LEAK,
            SLOW_DATABASE_LINK,
        ),
        correct_choice=0,
    ),
)
