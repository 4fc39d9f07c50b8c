"""Prometheus metrics of the shop and its workers, aggregated across processes.

When PROMETHEUS_MULTIPROC_DIR is set (the stack sets it for every gunicorn and
RQ worker), each process writes its samples there and `/metrics` merges them.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from target_app.instrumentation import buffered_values
from target_app.offload import off_the_hub

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)

HTTP_REQUESTS = Counter(
    "shop_http_requests_total",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "shop_http_request_duration_seconds",
    "HTTP request latency by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS_S,
)
HTTP_IN_FLIGHT = Gauge(
    "shop_http_requests_in_flight",
    "HTTP requests being served.",
    multiprocess_mode="livesum",
)

DB_POOL_SIZE = Gauge(
    "shop_db_pool_size", "Configured SQLAlchemy pool size.", multiprocess_mode="livesum"
)
DB_POOL_CHECKED_OUT = Gauge(
    "shop_db_pool_checked_out",
    "Connections checked out of the SQLAlchemy pool.",
    multiprocess_mode="livesum",
)
DB_POOL_OVERFLOW = Gauge(
    "shop_db_pool_overflow",
    "Connections open beyond the pool size.",
    multiprocess_mode="livesum",
)
DB_POOL_CHECKOUT_WAIT = Histogram(
    "shop_db_pool_checkout_wait_seconds",
    "Time spent waiting for a pooled connection.",
    buckets=LATENCY_BUCKETS_S,
)
DB_POOL_TIMEOUTS = Counter(
    "shop_db_pool_checkout_timeouts_total",
    "Pool checkouts that gave up after pool_timeout_s.",
)
DB_POOL_PINGS = Counter(
    "shop_db_pool_pings_total",
    "Pooled connections pinged before use because they sat idle, by outcome (alive, dead).",
    ["outcome"],
)

CHECKOUTS = Counter(
    "shop_checkouts_total",
    "Checkouts by outcome (ok, replayed, out_of_stock, rejected, deadlock, pool_timeout, error).",
    ["outcome"],
)
# Every outcome exists at 0 from the start, so rate() sees the very first deadlock or timeout
# (a series born at 1 has no earlier sample to differ from).
for _outcome in ("ok", "replayed", "out_of_stock", "rejected", "deadlock", "pool_timeout", "error"):
    CHECKOUTS.labels(_outcome)
PAYMENT_ENQUEUE_ERRORS = Counter(
    "shop_payment_enqueue_errors_total",
    "Payment jobs that could not be enqueued (Redis unreachable), by who enqueued them: the "
    "relay tries again on its next pass; the checkout (publish_after_commit) never does.",
    ["enqueued_by"],
)
for _enqueuer in ("relay", "checkout"):
    PAYMENT_ENQUEUE_ERRORS.labels(_enqueuer)

JOBS = Counter("shop_jobs_total", "RQ jobs run, by function and outcome.", ["function", "outcome"])
JOB_DURATION = Histogram(
    "shop_job_duration_seconds",
    "RQ job run time by function.",
    ["function"],
    buckets=LATENCY_BUCKETS_S,
)

OUTBOX_RELAYED = Counter(
    "shop_outbox_events_relayed_total", "Outbox events published to the Redis stream."
)
OUTBOX_BACKLOG = Gauge(
    "shop_outbox_backlog_events",
    "Outbox events not yet published to Redis.",
    multiprocess_mode="livemostrecent",
)
OUTBOX_OLDEST_AGE = Gauge(
    "shop_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest unpublished outbox event (0 when none).",
    multiprocess_mode="livemostrecent",
)
OUTBOX_RELAY_ERRORS = Counter(
    "shop_outbox_relay_errors_total", "Relay passes that failed, by reason.", ["reason"]
)

SSE_STREAMS_OPEN = Gauge(
    "shop_sse_streams_open",
    "Server-Sent Events streams open right now.",
    multiprocess_mode="livesum",
)
SSE_RECONNECTS = Counter(
    "shop_sse_reconnects_total",
    "Streams opened with a Last-Event-ID header: a client reconnecting.",
)
LIVE_CONNECTIONS = Counter(
    "shop_live_connections_total",
    "Live stock connections opened (SSE streams and WebSockets), by transport and by whether "
    "they resumed after an event the client named.",
    ["transport", "resumed"],
)
WEBSOCKETS_OPEN = Gauge(
    "shop_websockets_open",
    "Live stock WebSockets open right now.",
    multiprocess_mode="livesum",
)
LIVE_GAPS_REPORTED = Counter(
    "shop_live_gaps_reported_total",
    "Reconnections the clients reported (POST /stream/gaps), by transport.",
    ["transport"],
)
LIVE_UPDATES_MISSED = Counter(
    "shop_live_updates_missed_total",
    "Stock changes published while a client was away that its reconnection did not deliver, "
    "as the clients' reports and the events stream show them, by transport.",
    ["transport"],
)
# Every series from the start, at 0: increase() over a series born at its first
# increment reads 0 for that increment, and the first missed update would go unseen.
for _transport in ("sse", "websocket"):
    LIVE_GAPS_REPORTED.labels(transport=_transport)
    LIVE_UPDATES_MISSED.labels(transport=_transport)
    for _resumed in ("true", "false"):
        LIVE_CONNECTIONS.labels(transport=_transport, resumed=_resumed)

GEVENT_HUB_BLOCKED_SECONDS = Counter(
    "shop_gevent_hub_blocked_seconds_total",
    "Time the gevent hub spent in blocks longer than max_blocking_time, by process.",
    ["process"],
)
GEVENT_HUB_BLOCKS = Counter(
    "shop_gevent_hub_blocks_total",
    "Times the gevent hub was blocked past max_blocking_time, by process.",
    ["process"],
)

DB_STATEMENT_BUCKETS_S = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
)
DB_STATEMENT_DURATION = Histogram(
    "shop_db_statement_duration_seconds",
    "SQL statement run time by operation (first SQL keyword), failed statements included.",
    ["operation"],
    buckets=DB_STATEMENT_BUCKETS_S,
)
DB_QUERIES_PER_REQUEST = Histogram(
    "shop_db_queries_per_request",
    "SQL statements one HTTP request ran, by route template.",
    ["route"],
    buckets=(0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377),
)
DB_STATEMENT_REPEATS_PER_REQUEST = Histogram(
    "shop_db_statement_repeats_per_request",
    "How many times one HTTP request ran its most repeated SQL statement (the same text, any "
    "parameters; 0: no statement), by route template. An N+1 runs one statement per listed row.",
    ["route"],
    buckets=(0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377),
)

PAYMENTS_DECLINED = Counter(
    "shop_payments_declined_total",
    "Captures the payment provider declined for good, by what the job did then: "
    "retried (as if it could pass next time) or gave_up (order payment_failed, job failed).",
    ["then"],
)
for _then in ("retried", "gave_up"):
    PAYMENTS_DECLINED.labels(_then)  # at 0 from the start: the first decline is an increase
CACHE_READS = Counter(
    "shop_cache_reads_total",
    "Reads of a shared (Redis) cache entry by key and result: fresh, stale (served while one "
    "request recomputes it), miss (recomputed by this request) or error (cache unreachable).",
    ["key", "result"],
)
CACHE_RECOMPUTES = Counter(
    "shop_cache_recomputes_total",
    "Recomputations of a shared cache entry, by key and whether another recomputation of the "
    "same entry was running at the time (anywhere in the shop): overlapping yes or no.",
    ["key", "overlapping"],
)
for _result in ("fresh", "stale", "miss", "error"):
    CACHE_READS.labels("highlights", _result)
for _overlapping in ("yes", "no"):
    CACHE_RECOMPUTES.labels("highlights", _overlapping)
JOB_RETRIES = Counter(
    "shop_job_retries_total",
    "Failed RQ job attempts that will be retried, by function.",
    ["function"],
)
JOBS_FAILED_PERMANENTLY = Counter(
    "shop_jobs_failed_permanently_total",
    "RQ jobs out of retries, moved to the failed registry, by function.",
    ["function"],
)
#: Attempts are whole numbers: a bucket each up to a few retries, then coarser.
JOB_ATTEMPTS_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 11, 16, 21, 31)
JOB_ATTEMPTS = Histogram(
    "shop_job_attempts",
    "Attempts an RQ job took until it succeeded or ran out of retries (1 = no retry), by function.",
    ["function"],
    buckets=JOB_ATTEMPTS_BUCKETS,
)

CATALOG_CACHE_HITS = Counter(
    "shop_catalog_cache_hits_total",
    "Catalog answers served from the per-process cache, by view (list, search, detail).",
    ["view"],
)
CATALOG_CACHE_MISSES = Counter(
    "shop_catalog_cache_misses_total",
    "Catalog answers read from the database while the cache is on, by view.",
    ["view"],
)


def render_latest() -> tuple[bytes, str]:
    """Return the exposition text for all processes of the stack, and its content type.

    Merging every process's files is pure Python and grows with the processes the stack
    ever ran (a dead worker's counters stay): on a long-lived stack it takes over 100 ms,
    so it runs in gevent's thread pool, and the worker's hub goes on serving meanwhile.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        buffered_values.flush()  # this process's samples are exact; others lag at most 0.25 s
        return off_the_hub(_merged), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def _merged() -> bytes:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)
