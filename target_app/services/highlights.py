"""The front page's best sellers: a heavy order-history query, cached in Redis for every worker.

What the page shows changes slowly (sales of the last year: the best sellers
and the products most often bought together), and computing it reads every
paid order of that year twice (about a tenth of a second here), so one shared
Redis entry holds it for `highlights_ttl_s` seconds. The
`highlights_recompute_on_every_miss` switch (the cache-stampede scenario) is
the textbook cache: the entry expires with its Redis TTL (or is older than the
TTL), and every request that finds it missing recomputes the queries and
stores the answer. Under load, all the requests that arrive while the first
recomputation runs miss too, so N identical heavy queries start at once at
every expiry; they slow each other down, which lets even more requests miss.

The fix is single flight with stale-while-revalidate. The entry says when it
was computed and lives in Redis well past its freshness (`STALE_FOR_S`). A
request that finds it stale tries to take a Redis lock (redis-py's `Lock`:
SET NX with an expiry, released only by its holder) without waiting: the one
that gets it recomputes, every other one is served the stale copy at once.
Only when there is no copy at all (the first read, or after an outage) do
requests wait, briefly, for the one holding the lock.

Every read and recomputation is counted (shop_cache_reads_total,
shop_cache_recomputes_total); a recomputation also notes, in a Redis sorted
set, that it is running, so it can say whether another one was running
anywhere in the shop at the same time (the `overlapping` label). With Redis
unreachable, every request computes the answer itself: those count as reads
with result `error`, not as recomputations of the entry.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import uuid
from datetime import UTC, datetime
from typing import TypeGuard

from pydantic import ValidationError
from redis import Redis, RedisError
from redis.exceptions import LockError
from redis.lock import Lock
from sqlalchemy import text
from sqlalchemy.orm import Session

from target_app.instrumentation import metrics
from target_app.schemas import BestSeller, BoughtTogether, Highlights

log = logging.getLogger(__name__)

SWITCH = "highlights_recompute_on_every_miss"
NAME = "highlights"
#: Versioned: a change of the answer's shape starts a new entry.
KEY = "shop:cache:highlights:v1"
LOCK_KEY = f"{KEY}:lock"
COMPUTING_KEY = f"{KEY}:computing"
#: The fix keeps the entry this long past its freshness, to serve while one request recomputes.
STALE_FOR_S = 600
#: A lock holder that died frees the lock after this long; a recomputation takes a fraction.
LOCK_TIMEOUT_S = 10.0
#: With no copy at all, how long a request waits for the lock holder before computing itself,
#: looking for the stored entry this often meanwhile.
COLD_WAIT_S = 3.0
FILL_POLL_S = 0.05
#: A running-recomputation mark older than this is a crashed one's and no longer counts.
COMPUTING_MARK_S = 30.0
WINDOW_DAYS = 365
TOP = 8

# Every paid order of the window, summed by product; then the top products overall and the
# top one of each category. Both rankings break ties by id, so an answer is deterministic.
_BESTSELLERS_SQL = text(
    """
    WITH sales AS (
        SELECT oi.product_id, sum(oi.quantity) AS units_sold
        FROM order_items oi JOIN orders o ON o.id = oi.order_id
        WHERE o.status = 'paid' AND o.created_at > LOCALTIMESTAMP - make_interval(days => :days)
        GROUP BY oi.product_id
    ), ranked AS (
        SELECT p.id, p.sku, p.name, p.category, p.price_cents, p.stock, s.units_sold,
               row_number() OVER (ORDER BY s.units_sold DESC, p.id) AS overall,
               row_number() OVER (PARTITION BY p.category ORDER BY s.units_sold DESC, p.id)
                   AS in_category
        FROM sales s JOIN products p ON p.id = s.product_id
    )
    SELECT id, sku, name, category, price_cents, stock, units_sold, overall, in_category
    FROM ranked WHERE overall <= :top OR in_category = 1
    ORDER BY overall
    """
)


# Every pair of products in the same paid order of the window, counted: "bought together".
_PAIRS_SQL = text(
    """
    SELECT pairs.first_id, pa.name AS first_name, pairs.second_id, pb.name AS second_name,
           pairs.orders
    FROM (
        SELECT a.product_id AS first_id, b.product_id AS second_id, count(*) AS orders
        FROM orders o
        JOIN order_items a ON a.order_id = o.id
        JOIN order_items b ON b.order_id = o.id AND a.product_id < b.product_id
        WHERE o.status = 'paid' AND o.created_at > LOCALTIMESTAMP - make_interval(days => :days)
        GROUP BY 1, 2 ORDER BY orders DESC, 1, 2 LIMIT :top
    ) pairs
    JOIN products pa ON pa.id = pairs.first_id JOIN products pb ON pb.id = pairs.second_id
    ORDER BY pairs.orders DESC, pairs.first_id, pairs.second_id
    """
)


def compute(session: Session) -> Highlights:
    """Run the order-history queries (the heavy part, a tenth of a second) and shape the answer."""
    params = {"days": WINDOW_DAYS, "top": TOP}
    rows = session.execute(_BESTSELLERS_SQL, params).mappings().all()
    pairs = session.execute(_PAIRS_SQL, params).mappings().all()
    sellers = [(BestSeller.model_validate(dict(row)), row) for row in rows]
    return Highlights(
        bestsellers=[seller for seller, row in sellers if row["overall"] <= TOP],
        by_category=sorted(
            (seller for seller, row in sellers if row["in_category"] == 1),
            key=lambda seller: seller.category,
        ),
        bought_together=[BoughtTogether.model_validate(dict(pair)) for pair in pairs],
        window_days=WINDOW_DAYS,
        computed_at=datetime.now(UTC),
    )


class HighlightsCache:
    """The shared Redis entry of the best sellers, read and recomputed by every shop worker."""

    def __init__(self, redis: Redis, session: Session, *, ttl_s: float) -> None:
        self.redis = redis
        self.session = session
        self.ttl_s = ttl_s

    def read(self, *, single_flight: bool) -> Highlights:
        """Return the best sellers: from the cache when it can, recomputed when it must."""
        try:
            return self._read(single_flight=single_flight)
        except RedisError as exc:  # the cache is an optimisation: answer without it
            log.warning("highlights cache unreachable (%s): computing without it", exc)
            metrics.CACHE_READS.labels(NAME, "error").inc()
            return compute(self.session)

    def _read(self, *, single_flight: bool) -> Highlights:
        cached = _decoded(self.redis.get(KEY))
        if not single_flight:
            return self._plain(cached)
        if self._fresh(cached):
            metrics.CACHE_READS.labels(NAME, "fresh").inc()
            return cached
        if cached is not None:
            return self._revalidate(cached)
        return self._fill()

    def _fresh(self, entry: Highlights | None) -> TypeGuard[Highlights]:
        """Whether there is an entry, computed less than the TTL ago."""
        if entry is None:
            return False
        return (datetime.now(UTC) - entry.computed_at).total_seconds() < self.ttl_s

    def _plain(self, cached: Highlights | None) -> Highlights:
        """The bug: whoever misses (or finds it expired) recomputes, however many do at once."""
        if self._fresh(cached):
            metrics.CACHE_READS.labels(NAME, "fresh").inc()
            return cached
        metrics.CACHE_READS.labels(NAME, "miss").inc()
        return self._recompute(expire_s=self.ttl_s)

    def _revalidate(self, stale: Highlights) -> Highlights:
        """A stale copy: one request recomputes it (the lock's holder), the others get it."""
        lock = self.redis.lock(LOCK_KEY, timeout=LOCK_TIMEOUT_S)
        if not lock.acquire(blocking=False):
            metrics.CACHE_READS.labels(NAME, "stale").inc()
            return stale
        try:
            # Read again under the lock: the copy in hand was read before the lock was taken,
            # and the holder before this one may have stored a fresh answer in between (then
            # released the lock). Recomputing it would make two recomputations per expiry.
            latest = _decoded(self.redis.get(KEY))
            if self._fresh(latest):
                metrics.CACHE_READS.labels(NAME, "fresh").inc()
                return latest
            metrics.CACHE_READS.labels(NAME, "miss").inc()
            return self._recompute(expire_s=self.ttl_s + STALE_FOR_S)
        finally:
            _release(lock)

    def _fill(self) -> Highlights:
        """No copy at all: wait for the one computing it, or compute it while holding the lock.

        A waiter polls the entry itself (not only the lock), so every waiter sees the answer
        as soon as it is stored; past `COLD_WAIT_S` (a holder that died, or a database slower
        than that) it computes without the lock, after a last look.
        """
        deadline = time.monotonic() + COLD_WAIT_S
        while True:
            lock = self.redis.lock(LOCK_KEY, timeout=LOCK_TIMEOUT_S)
            held = lock.acquire(blocking=False)
            try:
                stored = _decoded(self.redis.get(KEY))  # stored while this one waited?
                if stored is not None:
                    metrics.CACHE_READS.labels(NAME, "fresh").inc()
                    return stored
                if held or time.monotonic() >= deadline:
                    metrics.CACHE_READS.labels(NAME, "miss").inc()
                    return self._recompute(expire_s=self.ttl_s + STALE_FOR_S)
            finally:
                if held:
                    _release(lock)
            time.sleep(FILL_POLL_S)

    def _recompute(self, *, expire_s: float) -> Highlights:
        """Compute and store the entry, counting whether another recomputation ran meanwhile.

        Once computed, the answer is returned whatever Redis does next: a store that fails
        is logged, not a reason to compute it all again.
        """
        mark = uuid.uuid4().hex
        now = time.time()
        with self.redis.pipeline() as pipe:  # MULTI: drop crashed marks, add ours, count them
            pipe.zremrangebyscore(COMPUTING_KEY, 0, now - COMPUTING_MARK_S)
            pipe.zadd(COMPUTING_KEY, {mark: now})
            pipe.zcard(COMPUTING_KEY)
            pipe.expire(COMPUTING_KEY, int(COMPUTING_MARK_S))
            running = int(pipe.execute()[2])
        try:
            answer = compute(self.session)
        finally:
            metrics.CACHE_RECOMPUTES.labels(NAME, "yes" if running > 1 else "no").inc()
            with contextlib.suppress(RedisError):  # the mark expires by itself
                self.redis.zrem(COMPUTING_KEY, mark)
        try:
            self.redis.set(KEY, answer.model_dump_json(), px=math.ceil(expire_s * 1000))
        except RedisError as exc:
            log.warning("highlights computed but not stored (%s)", exc)
        return answer


def _decoded(raw: bytes | None) -> Highlights | None:
    """Return the cached answer; None when there is none, or one this code cannot read (an
    entry stored by another version of the shop, during a deploy, is recomputed, not a 500).
    """
    if raw is None:
        return None
    try:
        return Highlights.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("highlights cache entry unreadable, recomputing it: %s", exc)
        return None


def _release(lock: Lock) -> None:
    """Release a lock this request holds; one that expired meanwhile is no longer ours, and
    one Redis cannot release now expires by itself (LOCK_TIMEOUT_S).
    """
    try:
        lock.release()
    except LockError:
        log.warning("highlights lock expired before its recomputation ended")
    except RedisError as exc:
        log.warning("highlights lock not released (%s): it expires by itself", exc)
