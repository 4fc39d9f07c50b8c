"""index: a schema fault, one of the shop's indexes dropped, then built again from its definition.

A deploy whose migration lost an index, or an index dropped by hand "because it
looked unused": queries that relied on it fall back to sequential scans.
`present=False` records the index's definition (pg_indexes) in the state
folder and drops it with `DROP INDEX CONCURRENTLY` (no lock that blocks the
shop's writes); reverting builds it again from that record with `CREATE INDEX
CONCURRENTLY`. The record outlives the run, so a killed run's index is rebuilt
by the next run's preflight or by `faultyard reset` (the sweep).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from chaos.errors import FaultyardError
from chaos.faults.base import IDENTIFIER_PATTERN, FaultKind, register
from chaos.settings import libpq_url

if TYPE_CHECKING:
    import psycopg

    from chaos.faults.context import FaultContext

#: The dropped indexes' definitions, by name, in the stack's state folder.
RECORD_FILE = "dropped-indexes.json"
CONNECT_TIMEOUT_S = 5
UNKNOWN_DEFINITION = "and no definition recorded to build it from"
#: CONCURRENTLY waits for transactions that started before it; never forever.
STATEMENT_TIMEOUT = "60s"
INDEX_SQL = """
SELECT i.indexdef, x.indisvalid
FROM pg_indexes i
JOIN pg_class c ON c.relname = i.indexname
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = i.schemaname
JOIN pg_index x ON x.indexrelid = c.oid
WHERE i.schemaname = 'public' AND i.indexname = %s
"""


class IndexFaultError(FaultyardError):
    """An index cannot be dropped or rebuilt as asked."""


@register
class Index(FaultKind):
    """One index of the shop's database; `present=False` drops it, `present=True` rebuilds it."""

    kind: Literal["index"] = "index"
    name: str = Field(pattern=IDENTIFIER_PATTERN)
    present: bool

    def describe(self) -> str:
        """Return one line saying what this step does."""
        return f"index {self.name} {'present (fix)' if self.present else 'dropped (bug)'}"

    def apply(self, ctx: FaultContext) -> str:
        """Drop the index (recording its definition first), or make sure it is there."""
        if self.present:
            said = self.revert(ctx)
            if said.endswith(UNKNOWN_DEFINITION):
                raise IndexFaultError(f"cannot build index {self.name}: {said}")
            return said
        with _failing_as_fault_error(f"drop index {self.name}"), _connect(ctx) as conn:
            found = conn.execute(INDEX_SQL, (self.name,)).fetchone()
            if found is None:
                if self.name in _records(ctx):
                    return f"index {self.name} dropped already"
                raise IndexFaultError(f"the shop's database has no index named {self.name!r}")
            _record(ctx, self.name, found[0])
            try:
                _cancelling(conn, f'DROP INDEX CONCURRENTLY IF EXISTS "{self.name}"')
            except BaseException:
                if conn.execute(INDEX_SQL, (self.name,)).fetchone() is not None:
                    _forget(ctx, self.name)  # not dropped: nothing to rebuild
                raise
        return f"dropped index {self.name} ({found[0]})"

    def revert(self, ctx: FaultContext) -> str:
        """Build the index again from its recorded definition (an index that is there stays)."""
        definition = _records(ctx).get(self.name)
        with _failing_as_fault_error(f"build index {self.name}"), _connect(ctx) as conn:
            found = conn.execute(INDEX_SQL, (self.name,)).fetchone()
            if found is not None and found[1]:
                _forget(ctx, self.name)
                return f"index {self.name} present"
            if definition is None:
                if found is None:
                    return f"index {self.name} absent, {UNKNOWN_DEFINITION}"
                definition = found[0]
            if found is not None:  # left invalid by an interrupted build
                _cancelling(conn, f'DROP INDEX CONCURRENTLY IF EXISTS "{self.name}"')
            _cancelling(conn, concurrently(definition))
        _forget(ctx, self.name)
        return f"rebuilt index {self.name}"

    @classmethod
    def sweep(cls, ctx: FaultContext) -> list[str]:
        """Rebuild every index a fault dropped and nobody rebuilt."""
        return [
            f"index {name} dropped: {cls(name=name, present=True).revert(ctx)}"
            for name in sorted(_records(ctx))
        ]


def concurrently(definition: str) -> str:
    """Return pg_indexes' `CREATE [UNIQUE] INDEX ...` as `CREATE ... INDEX CONCURRENTLY ...`."""
    built, count = re.subn(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY ", definition)
    if count != 1:
        raise IndexFaultError(f"not an index definition: {definition!r}")
    return built


def _connect(ctx: FaultContext) -> psycopg.Connection:
    import psycopg  # only to apply or revert: listing scenarios needs no driver

    return psycopg.connect(
        libpq_url(ctx.stack.settings.database_url),
        autocommit=True,  # CONCURRENTLY refuses to run inside a transaction
        connect_timeout=CONNECT_TIMEOUT_S,
        application_name="faultyard-faults",
        # The server ends the statement if this client goes away (a killed run).
        options=f"-c statement_timeout={STATEMENT_TIMEOUT} -c client_connection_check_interval=1000",
    )


def _cancelling(conn: psycopg.Connection, statement: str) -> None:
    """Run a statement; if the run is interrupted meanwhile, cancel it on the server first."""
    try:
        conn.execute(statement)  # type: ignore[arg-type]
    except BaseException:
        conn.cancel_safe()
        raise


@contextmanager
def _failing_as_fault_error(what: str) -> Iterator[None]:
    """Turn PostgreSQL's errors (unreachable, a statement timeout) into the tool's error."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        raise IndexFaultError(f"cannot {what}: {str(exc).strip() or type(exc).__name__}") from exc


def dropped_indexes(state_path: Path) -> dict[str, str]:
    """Return the indexes a fault dropped and nobody rebuilt yet, with their definitions."""
    try:
        data = json.loads((state_path / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _record_file(ctx: FaultContext) -> Path:
    return ctx.stack.settings.state_path / RECORD_FILE


def _records(ctx: FaultContext) -> dict[str, str]:
    return dropped_indexes(ctx.stack.settings.state_path)


def _write_records(ctx: FaultContext, records: dict[str, str]) -> None:
    path = _record_file(ctx)
    if not records:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(records, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _record(ctx: FaultContext, name: str, definition: str) -> None:
    _write_records(ctx, {**_records(ctx), name: definition})


def _forget(ctx: FaultContext, name: str) -> None:
    records = _records(ctx)
    if records.pop(name, None) is not None:
        _write_records(ctx, records)
