"""Read every outbox event exactly once, in id order, including events whose transaction commits late.

Ids come from a sequence when the row is inserted, but rows become visible
when their transaction commits, so a reader that only asks for ids above the
highest one it has read would skip an event committed after a greater id. The
tail remembers the ids it skipped (gaps) and asks for them again at every read,
until PostgreSQL proves that they can no longer appear: a checkpoint records the
highest visible id M with the snapshot's xmax; once every transaction below that
xmax has ended (a later snapshot's xmin has passed it), each id up to M is either
committed, and so visible to the read that follows, or never will be.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

BATCH_ROWS = 5000  # rows per read: a long history is caught up over several reads
MAX_CHECKPOINTS = 3600  # an hour of reads under one long transaction; older ones are dropped

CHECKPOINT_SQL = """
SELECT coalesce(max(id), 0),
       pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint
FROM outbox_events
"""
# Payloads of order.placed only: the other topics' are not needed.
_COLUMNS = "id, topic, CASE WHEN topic = 'order.placed' THEN payload END, published_at"
NEW_ROWS_SQL = f"SELECT {_COLUMNS} FROM outbox_events WHERE id > %s ORDER BY id LIMIT %s"
GAP_ROWS_SQL = f"SELECT {_COLUMNS} FROM outbox_events WHERE id = ANY(%s)"


@dataclass(frozen=True)
class OutboxRow:
    """One outbox event as the tail hands it over."""

    id: int
    topic: str
    payload: Any  # order.placed events only, else None
    published_at: datetime | None


class OutboxTail:
    """Hands over each outbox event once; keep one instance per reader."""

    def __init__(self, *, batch: int = BATCH_ROWS) -> None:
        self.batch = batch
        self.highest = 0  # every id up to here was read or is a gap
        self.gaps: set[int] = set()
        self.caught_up = False  # the last read reached the newest event
        self._checkpoints: deque[tuple[int, int]] = deque(maxlen=MAX_CHECKPOINTS)

    def read(self, conn: psycopg.Connection) -> list[OutboxRow]:
        """Return the events not handed over yet (new ones, then late ones), on an autocommit connection."""
        row = conn.execute(CHECKPOINT_SQL).fetchone()
        assert row is not None
        visible_max, xmin, xmax = (int(v) for v in row)
        self._checkpoints.append((xmax, visible_max))

        rows = [OutboxRow(*r) for r in conn.execute(NEW_ROWS_SQL, (self.highest, self.batch))]
        expected = self.highest + 1
        for r in rows:
            self.gaps.update(range(expected, r.id))
            expected = r.id + 1
        if rows:
            self.highest = rows[-1].id
        self.caught_up = len(rows) < self.batch

        late: list[OutboxRow] = []
        if self.gaps:
            late = [OutboxRow(*r) for r in conn.execute(GAP_ROWS_SQL, (sorted(self.gaps),))]
            self.gaps.difference_update(r.id for r in late)
        # The gap read ran after the checkpoint query: it saw every commit before `xmin`.
        settled = 0
        while self._checkpoints and self._checkpoints[0][0] <= xmin:
            settled = max(settled, self._checkpoints.popleft()[1])
        if settled:
            self.gaps = {gap for gap in self.gaps if gap > settled}
        return rows + late
