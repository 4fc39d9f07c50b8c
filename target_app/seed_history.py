"""The seed's regular customers and their order history: what a shop that has been open a while has.

Each customer gets `orders` past orders (a checked-out cart, a paid order, two
lines) spread over the last years, all in one statement. Idempotent: customers
that have orders already are left alone. Without this history the orders table
would hold only the load's orders of five users, too few users for an index on
`orders.user_id` to matter, and no history to page through.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from target_app.seed_data import CUSTOMER_ID_BASE, CUSTOMERS, ORDERS_PER_CUSTOMER

# One plan row per order to make: its customer, when, and two lines of products that exist.
# The plan CTE is evaluated once, so the carts, orders and items all agree with it.
_HISTORY_SQL = """
WITH customers AS (
    SELECT u.id FROM users u
    WHERE u.email LIKE 'customer-%@example.test'
      AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)
), catalog AS (  -- numbered 0..total-1, whatever gaps the ids have
    SELECT id, price_cents, row_number() OVER (ORDER BY id) - 1 AS k, count(*) OVER () AS total
    FROM products
), plan AS (
    -- LOCALTIMESTAMP: the columns are timestamps without time zone, like the app's now().
    SELECT c.id AS user_id,
           LOCALTIMESTAMP - make_interval(days => n * 17 + c.id % 17, secs => c.id % 3600) AS at,
           p1.id AS p1, p1.price_cents AS price1, 1 + (c.id + n) % 3 AS quantity1,
           p2.id AS p2, p2.price_cents AS price2
    FROM customers c
    CROSS JOIN generate_series(1, :orders) AS n
    JOIN catalog p1 ON p1.k = (c.id * 31 + n * 7) % p1.total
    JOIN catalog p2 ON p2.k = (c.id * 17 + n * 13 + 5) % p2.total
), new_carts AS (
    INSERT INTO carts (user_id, created_at, checked_out_at)
    SELECT user_id, at, at FROM plan ORDER BY at, user_id  -- ids in time order, as in a shop
    RETURNING id, user_id, created_at
), new_orders AS (
    INSERT INTO orders (user_id, cart_id, status, total_cents, created_at, paid_at)
    SELECT c.user_id, c.id, 'paid', p.price1 * p.quantity1 + p.price2, c.created_at,
           c.created_at
    FROM new_carts c JOIN plan p ON p.user_id = c.user_id AND p.at = c.created_at
    ORDER BY c.id
    RETURNING id, user_id, created_at
)
INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
SELECT o.id, line.product_id, line.quantity, line.price
FROM new_orders o
JOIN plan p ON p.user_id = o.user_id AND p.at = o.created_at
CROSS JOIN LATERAL (VALUES (p.p1, p.quantity1, p.price1), (p.p2, 1, p.price2))
    AS line (product_id, quantity, price)
"""


def seed_history(
    conn: Connection,
    *,
    customers: int = CUSTOMERS,
    orders: int = ORDERS_PER_CUSTOMER,
) -> int:
    """Make the missing customers and the history of those without one; return the items made."""
    # Fixed ids, so that shoppers know them; the id sequence moves past them.
    conn.execute(
        text(
            "INSERT INTO users (id, email, name) "
            "SELECT :base + n, 'customer-' || lpad(n::text, 6, '0') || '@example.test', "
            "'Customer ' || n FROM generate_series(1, :customers) AS n ON CONFLICT DO NOTHING"
        ),
        {"base": CUSTOMER_ID_BASE, "customers": customers},
    )
    conn.execute(
        text(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), max(id)) FROM users "
            "HAVING max(id) > (SELECT last_value FROM users_id_seq)"
        )
    )
    made = conn.execute(text(_HISTORY_SQL), {"orders": orders}).rowcount
    if made:
        conn.execute(text("ANALYZE users, carts, orders, order_items"))
    return made
