"""How the shop's tables are read: sequential and index scans per table, from pg_stat_user_tables.

postgres_exporter connects to the `postgres` database, whose pg_stat_user_tables
lists none of the shop's tables; this collector reads the shop's own database. A
table read by sequential scans where it used to be read by an index is the
symptom of a missing index: `faultyard_pg_table_seq_scans_total{table="orders"}`
climbs with every request that should have used one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import psycopg
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from chaos.exporter.polling import Poller
from chaos.settings import libpq_url

CONNECT_TIMEOUT_S = 2
STATEMENT_TIMEOUT_MS = 1000
APPLICATION_NAME = "faultyard-exporter-tables"
TABLE_STATS_SQL = """
SELECT relname, seq_scan, coalesce(seq_tup_read, 0), coalesce(idx_scan, 0),
       coalesce(idx_tup_fetch, 0)
FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY relname
"""


class TableScans(NamedTuple):
    """One table's scan counters since the statistics were last reset."""

    table: str
    seq_scans: int
    seq_rows_read: int
    index_scans: int
    index_rows_fetched: int


class TableStats:
    """Reads pg_stat_user_tables of the shop's database (a poller's fetch)."""

    def __init__(self, database_url: str) -> None:
        self.url = libpq_url(database_url)
        self._conn: psycopg.Connection | None = None

    def read(self) -> list[TableScans]:
        """Return every table's counters; raise psycopg.Error if PostgreSQL does not answer."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT_S,
                    application_name=APPLICATION_NAME,
                    options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                )
            return [TableScans(*row) for row in self._conn.execute(TABLE_STATS_SQL)]
        except psycopg.Error:
            if self._conn is not None:
                self._conn.close()
            raise


class TableScanCollector(Collector):
    """Export faultyard_pg_table_{seq_scans,seq_rows_read,index_scans,index_rows_fetched}_total."""

    FAMILIES = (
        ("seq_scans", "Sequential scans of the table."),
        ("seq_rows_read", "Rows read by sequential scans of the table."),
        ("index_scans", "Index scans of the table."),
        ("index_rows_fetched", "Live rows fetched by index scans of the table."),
    )

    def __init__(self, stats: Poller[list[TableScans]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[CounterMetricFamily]:
        """Yield each counter family, one sample per table (none while PostgreSQL is away)."""
        tables = self.stats.snapshot().value or []
        for field, help_text in self.FAMILIES:
            family = CounterMetricFamily(
                f"faultyard_pg_table_{field}",
                f"{help_text} From the shop database's pg_stat_user_tables.",
                labels=["table"],
            )
            for table in tables:
                family.add_metric([table.table], float(getattr(table, field)))
            yield family
