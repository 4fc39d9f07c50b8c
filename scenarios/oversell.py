"""oversell: checkouts read the stock unlocked and write back what they computed (a lost update)."""

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
    SQLProbe,
    Switch,
)
from scenarios._common import (
    CATALOG_ANSWERS,
    CHECKOUT_P99,
    CHECKOUTS_BY_OUTCOME,
    LOCK_ORDER,
    LOST_UPDATE,
    NO_OVERSOLD_STOCK,
    SESSION_LEAK,
    SLOW_DATABASE_LINK,
    few_checkout_errors,
    recent_increase,
)

#: Units sold twice in the last 10 s (the invariant itself is a running total).
RECENT = "10s"
OVERSOLD = "max(shop_invariant_oversold_units)"
OVERSOLD_LATELY = recent_increase("shop_invariant_oversold_units", RECENT)
# Two order.placed events of one product that saw the same stock (stock_after + quantity):
# each sold the same units. Read from the events committed lately, straight from the outbox
# (the last 2000 events: the primary key bounds the scan).
CHECKOUTS_THAT_SAW_THE_SAME_STOCK = """
SELECT count(*) FROM (
  SELECT 1
  FROM outbox_events AS e, jsonb_array_elements(e.payload -> 'items') AS line
  WHERE e.id > (SELECT max(id) FROM outbox_events) - 2000
    AND e.topic = 'order.placed' AND e.created_at > now() - interval '10 seconds'
  GROUP BY line ->> 'product_id', (line ->> 'stock_after')::int + (line ->> 'quantity')::int
  HAVING count(*) > 1
) AS same_stock
"""

SCENARIO = Scenario(
    name="oversell",
    title="Checkouts sell the same units twice",
    difficulty="intermediate",
    page=(
        "Customer support has complaints from buyers of this week's popular products: their "
        "orders were confirmed and paid, and now the warehouse says the items were never in "
        "stock. The shop itself looks healthy: no errors, normal latency."
    ),
    faults=(
        Switch(name="unlocked_stock_update", value=True),
        # A slow step between reading the stock and writing it (pricing, a fraud check).
        Setting(name="checkout_lock_pause_ms", value=20),
    ),
    fix=(Switch(name="unlocked_stock_update", value=False),),
    load=LoadProfile(
        users=12,
        spawn_rate=12,
        duration_s=30,
        # ContendedBuyer buys the same few hot products at once: the race needs company.
        journeys={"ContendedBuyer": 8, "Buyer": 1, "Browser": 2, "StockWatcher": 1},
    ),
    symptoms=(
        PromQLProbe(
            name="units_sold_twice",
            expr=OVERSOLD_LATELY,
            comparator=">",
            threshold=0,
            description="the exporter's ledger of order.placed events finds units of one "
            "product sold by two checkouts, in the last 10 s",
        ),
        SQLProbe(
            name="checkouts_saw_the_same_stock",
            sql=CHECKOUTS_THAT_SAW_THE_SAME_STOCK,
            comparator=">",
            threshold=0,
            description="two orders of one product, placed in the last 10 s, each saw the "
            "same stock: both sold the same units",
        ),
    ),
    slo=(
        PromQLProbe(
            name="no_unit_sold_twice",
            expr=f"({OVERSOLD_LATELY}) or vector(0)",
            comparator="==",
            threshold=0,
            description="no unit sold twice in the last 10 s",
        ),
        few_checkout_errors(),
        PromQLProbe(
            name="checkout_p99_below_1s",
            expr=CHECKOUT_P99,
            comparator="<",
            threshold=1.0,
            description="checkout p99 under a second: checkouts of a hot product queue for "
            "its row lock, one pricing pause each",
        ),
        NO_OVERSOLD_STOCK,
        CATALOG_ANSWERS,
    ),
    key_series=(
        Series(title="Oversold units (all time)", expr=OVERSOLD),
        Series(title=f"Units sold twice, last {RECENT}", expr=OVERSOLD_LATELY),
        CHECKOUTS_BY_OUTCOME,
        Series(title="Checkout p99", expr=CHECKOUT_P99, unit="s"),
    ),
    guide=Guide(
        where_to_look=(
            "The Jobs & Outbox dashboard (`faultyard dashboard jobs-outbox`), row Invariants: "
            "`shop_invariant_oversold_units` climbs, and the `BusinessInvariantBroken` alert "
            "fires. Latency and error panels everywhere else look normal: this bug is silent.",
            "The order rows: every checkout writes an `order.placed` event with each line's "
            "`quantity` and the `stock_after` it left, so `stock_after + quantity` is the stock "
            "that checkout read. In psql: `SELECT line->>'product_id' AS product, "
            "(line->>'stock_after')::int + (line->>'quantity')::int AS stock_read, count(*) "
            "FROM outbox_events, jsonb_array_elements(payload->'items') AS line WHERE topic = "
            "'order.placed' GROUP BY 1, 2 HAVING count(*) > 1;` lists the stock values that "
            "several checkouts read.",
            "Compare a product's stock with what it sold: `SELECT p.id, p.stock, sum(i.quantity) "
            "FROM products p JOIN order_items i ON i.product_id = p.id GROUP BY p.id ORDER BY 3 "
            "DESC LIMIT 5;`: the hot products sold far more than their stock went down.",
            "The statements: `faultyard traces --slowest 10` shows a checkout's `SELECT ... FROM "
            "products WHERE products.id IN (...)` without `FOR UPDATE`, then `UPDATE products SET "
            "stock=%(stock)s` with a literal value: a read-modify-write done in Python.",
        ),
        what_you_will_see=(
            "Oversold units climbing within seconds of the switch, while every checkout answers "
            "201: nothing fails, so no error rate, no latency alert and no log line says so.",
            "Pairs (or more) of `order.placed` events for one product with the same "
            "`stock_after`: each checkout sold the same units, and the product's stock went "
            "down by one sale instead of two.",
            "The product's stock staying high while its order lines pile up; when it does run "
            "out, buyers of units that never existed have already paid.",
        ),
        root_cause=(
            "Checkout reads each product with a plain `SELECT`, checks `stock >= quantity` in "
            "Python, and the ORM writes back `UPDATE products SET stock = <what it read minus the "
            "quantity>`. Two checkouts of the same product at the same time both read, say, 10; "
            "both pass the check; both write 9. The second write silently overwrites the first "
            "(a lost update): two units sold, stock down by one. PostgreSQL's default isolation, "
            "READ COMMITTED, allows exactly this: the second UPDATE waits for the first "
            "transaction's row lock, then applies its own value, computed from a read that is "
            "now stale. The slower the step between the read and the write (pricing, a fraud "
            "check), and the more buyers of one product at once (a sale), the more units are "
            "sold twice."
        ),
        fix=(
            "Make the check and the decrement one atomic step. Either lock the rows before "
            "reading them (`SELECT ... FOR UPDATE`, in a fixed order so that checkouts cannot "
            "deadlock), which this shop's fix does, or let the database check and decrement "
            "together: `UPDATE products SET stock = stock - :q WHERE id = :id AND stock >= :q "
            "RETURNING stock`, and answer 409 when it changes no row. Raising the isolation "
            "level to REPEATABLE READ or SERIALIZABLE also stops the lost update, but then "
            "PostgreSQL aborts the second transaction with SQLSTATE 40001 "
            "(could not serialize access) and the code must retry it. Here: `faultyard switch "
            "unlocked_stock_update off`, or `make scenario oversell FIXED=1` to watch the same "
            "load with locked rows."
        ),
        further_reading=(
            Link(
                title="PostgreSQL: Transaction Isolation (Read Committed, Repeatable Read)",
                url="https://www.postgresql.org/docs/current/transaction-iso.html",
            ),
            Link(
                title="PostgreSQL: the locking clause of SELECT (FOR UPDATE)",
                url="https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE",
            ),
            Link(
                title="PostgreSQL: UPDATE ... RETURNING",
                url="https://www.postgresql.org/docs/current/sql-update.html",
            ),
            Link(
                title="PostgreSQL: error codes (40001 serialization_failure)",
                url="https://www.postgresql.org/docs/current/errcodes-appendix.html",
            ),
            Link(
                title="Martin Kleppmann: Designing Data-Intensive Applications, ch. 7 "
                "(preventing lost updates)",
                url="https://dataintensive.net/",
            ),
        ),
    ),
    answer=AnswerKey(
        component="shop",
        related_components=("database",),
        root_cause="lost-update-oversell",
        keywords=("lost update", "race", "read-modify-write", "for update", "oversell"),
        choices=(
            f"{LOST_UPDATE}; two checkouts of one product overwrite each other's decrement",
            LOCK_ORDER,
            SESSION_LEAK,
            SLOW_DATABASE_LINK,
        ),
        correct_choice=0,
    ),
)
