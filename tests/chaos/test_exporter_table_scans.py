"""The exporter's table scans: pg_stat_user_tables of the shop's database, per table."""

from __future__ import annotations

from sqlalchemy import Engine, text

from chaos.stack.manager import Stack
from tests.chaos.test_exporter import scrape, value
from tests.conftest import eventually

SEQ_SCANS = "faultyard_pg_table_seq_scans_total"


def seq_scans_of_orders(stack: Stack) -> float:
    found = value(scrape(stack.settings.exporter_url), SEQ_SCANS, table="orders")
    assert found is not None, f"the exporter serves no {SEQ_SCANS}{{table='orders'}}"
    return found


def test_a_sequential_scan_of_orders_is_counted(stack: Stack, db: Engine) -> None:
    before = seq_scans_of_orders(stack)
    samples = scrape(stack.settings.exporter_url)
    for table in ("products", "carts", "order_items", "outbox_events"):
        assert value(samples, SEQ_SCANS, table=table) is not None, table
    assert value(samples, "faultyard_source_up", source="postgres-tables") == 1.0

    with db.connect() as conn:
        for scan in ("indexscan", "indexonlyscan", "bitmapscan"):
            conn.execute(text(f"SET enable_{scan} = off"))
        plan = "\n".join(conn.execute(text("EXPLAIN SELECT count(*) FROM orders")).scalars())
        assert "Seq Scan on orders" in plan
        conn.execute(text("SELECT count(*) FROM orders")).scalar_one()
        # A backend flushes its statistics at most once a second, or after 10 s idle:
        # PostgreSQL 15 can be asked to flush them at the end of this transaction.
        conn.execute(text("SELECT pg_stat_force_next_flush()"))
        conn.commit()

    # The exporter reads pg_stat_user_tables every second.
    eventually(lambda: seq_scans_of_orders(stack) >= before + 1, "the scan to be counted", 10)
