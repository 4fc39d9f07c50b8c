"""Watch the consumer stream `shop:events` as a consumer would, remembering the events it holds.

The exporter reads every entry the relay adds (XRANGE from the last entry it
read, a bounded number per pass), so it learns of each event within a pass,
long before the stream's MAXLEN trimming (~100 000 entries) could remove it.
Only events that were trimmed before the watch began cannot be known: when
the stream had already lost entries at that moment (Redis 7 reports how many
entries were ever added: more than it holds), or did not exist (a restarted
Redis lost it with the rest of its data), events published before the watch
began are not judged.
"""

from __future__ import annotations

from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import ResponseError

StreamId = tuple[int, int]

READ_CHUNK = 1000  # entries per XRANGE call
MAX_ENTRIES_PER_READ = 20_000  # a pass that would read more ends early and finishes next time


def parse_id(entry_id: str) -> StreamId:
    """Return a stream entry id ("1700000000000-3") as a comparable pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def utc_now() -> datetime:
    """Return the time as the relay writes published_at: naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class StreamWatch:
    """Follows one Redis stream and keeps the outbox event ids (`event_id` field) it holds.

    An id leaves `seen` once a published event is matched with it (`take`), so
    the set stays about as small as the events in flight between the two reads.
    """

    def __init__(self, redis: Redis, stream: str) -> None:
        self.redis = redis
        self.stream = stream
        self.position: StreamId = (0, 0)
        self.seen: set[int] = set()
        self.started_at: datetime | None = None
        self.nothing_deleted_before_start = False

    def read(self) -> bool:
        """Read the entries added since the last read; True once the end of the stream is reached.

        Raises RedisError when Redis does not answer.
        """
        try:
            info = self.redis.xinfo_stream(self.stream)
        except ResponseError:
            info = None  # no such stream (yet, or Redis restarted and lost it)
        if self.started_at is None:
            self.started_at = utc_now()
            # Redis 7 counts every entry ever added: fewer left means some were trimmed.
            added, length = (info or {}).get("entries-added"), (info or {}).get("length")
            # No stream at all: none ever existed (nothing was published), or Redis lost it
            # (it restarted: the stack's Redis keeps no data across restarts). Either way the
            # events published before the watch cannot be judged.
            self.nothing_deleted_before_start = info is not None and added == length
        if info is not None and parse_id(str(info["last-generated-id"])) < self.position:
            self.position = (0, 0)  # the stream was recreated: read the new one from its start
        read = 0
        while read < MAX_ENTRIES_PER_READ:
            entries = self.redis.xrange(
                self.stream, min=f"({self.position[0]}-{self.position[1]}", count=READ_CHUNK
            )
            for entry_id, fields in entries:
                self.position = parse_id(entry_id)
                event_id = fields.get("event_id", "")
                if event_id.isdigit():
                    self.seen.add(int(event_id))
            read += len(entries)
            if len(entries) < READ_CHUNK:
                return True
        return False

    def take(self, event_id: int) -> bool:
        """Return whether the stream held this event, and forget it (it is judged once)."""
        if event_id in self.seen:
            self.seen.discard(event_id)
            return True
        return False

    def can_judge(self, published_at: datetime) -> bool:
        """Return whether an event missing from the stream is surely lost (not trimmed unread)."""
        if self.started_at is None:
            raise RuntimeError("read the stream before judging events")
        return self.nothing_deleted_before_start or published_at >= self.started_at
