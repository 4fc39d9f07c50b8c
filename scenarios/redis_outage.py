"""redis-outage: Redis unreachable for the whole window; a dual write after commit loses events."""

from __future__ import annotations

from chaos.scenarios.model import (
    AnswerKey,
    Guide,
    HTTPProbe,
    Link,
    LoadProfile,
    PromQLProbe,
    ProxyDown,
    Scenario,
    Series,
    Switch,
)
from scenarios._common import (
    CHECKOUTS_BY_OUTCOME,
    DUAL_WRITE,
    LOST_UPDATE,
    RETRY_STORM,
    SESSION_LEAK,
    few_checkout_errors,
    rate,
    recent_increase,
)

LOST_LATELY = recent_increase("shop_invariant_lost_events")
ENQUEUE_FAILURES = rate('shop_payment_enqueue_errors_total{enqueued_by="checkout"}')

SCENARIO = Scenario(
    name="redis-outage",
    title="Events and payments lost while Redis is down",
    difficulty="intermediate",
    page=(
        "Finance reports orders that were confirmed to customers but never charged, all placed "
        "within the same half minute this morning. The warehouse never heard of them either. "
        "Checkout answered normally the whole time."
    ),
    faults=(
        # The link from every shop process to Redis is cut for the whole window.
        ProxyDown(proxy="redis"),
        Switch(name="publish_after_commit", value=True),
    ),
    fix=(Switch(name="publish_after_commit", value=False),),
    load=LoadProfile(
        users=10,
        spawn_rate=10,
        duration_s=30,
        journeys={"Buyer": 6, "Browser": 3, "HistoryReader": 1},
    ),
    symptoms=(
        PromQLProbe(
            name="events_lost",
            expr=LOST_LATELY,
            comparator=">",
            threshold=0,
            description="outbox events marked published that the event stream never held "
            "(the exporter compares the outbox with the stream), new in the last 10 s",
        ),
        PromQLProbe(
            name="payments_not_enqueued",
            expr=ENQUEUE_FAILURES,
            comparator=">",
            threshold=0,
            description="checkouts fail to enqueue their payment job, and nothing enqueues "
            "it later (the relay's failures, which it retries, are not counted here)",
        ),
        HTTPProbe(
            name="readiness_reports_redis",
            path="/readyz",
            expect_status=503,
            caused_by_fault=True,
            description="readiness answers 503: Redis is unreachable (the outage itself)",
        ),
    ),
    slo=(
        PromQLProbe(
            name="no_event_lost",
            expr=f"({LOST_LATELY}) or vector(0)",
            comparator="==",
            threshold=0,
            description="every event marked published is in the stream",
        ),
        few_checkout_errors("checkout keeps working without Redis: fewer than 1 % answer 5xx"),
    ),
    key_series=(
        Series(title="Lost events, last 10 s", expr=LOST_LATELY),
        Series(title="Outbox backlog (unpublished events)", expr="max(shop_outbox_backlog_events)"),
        Series(
            title="Payment enqueue failures/s by enqueuer",
            expr="sum by (enqueued_by) (rate(shop_payment_enqueue_errors_total[10s]))",
            unit="1/s",
        ),
        CHECKOUTS_BY_OUTCOME,
    ),
    guide=Guide(
        where_to_look=(
            "The Jobs & Outbox dashboard (`faultyard dashboard jobs-outbox`): the Invariants "
            "row shows lost events (`shop_invariant_lost_events`, `BusinessInvariantBroken` "
            "fires), while the outbox backlog stays flat: the events never waited in the outbox.",
            "`/readyz` answers 503 naming Redis, and `faultyard status` shows the `redis` "
            "proxy down: the outage itself, which the shop must survive.",
            "`faultyard logs app --grep 'not published'`: the shop logs each order whose "
            "event and payment it failed to write to Redis after the commit.",
            "In psql: orders still `pending_payment` long after checkout whose `order.placed` "
            "event is marked published: `SELECT o.id, o.created_at, e.published_at FROM orders o "
            "JOIN outbox_events e ON e.topic = 'order.placed' AND (e.payload->>'order_id')::int "
            "= o.id WHERE o.status = 'pending_payment' AND o.created_at < now() - interval "
            "'1 minute' ORDER BY o.id DESC LIMIT 10;`",
        ),
        what_you_will_see=(
            "Checkout answering 201 throughout: the orders are committed in PostgreSQL.",
            "Payment enqueue failures during the outage, and lost events counted against the "
            "outbox: those orders are never paid and their events never reach consumers, even "
            "after Redis is back.",
            "With the fix, the same outage shows as an outbox backlog that grows (and the "
            "`OutboxLag` alert) and then drains within seconds of Redis coming back: every "
            "order paid late, none lost.",
        ),
        root_cause=(
            "Checkout writes the order to PostgreSQL and then, after the commit, writes to a "
            "second system: it enqueues the payment job and appends the event to the Redis "
            "stream itself, having marked the outbox event published so the relay skips it. "
            "This is a dual write: the two systems cannot commit together. When Redis is "
            "unreachable the second write fails, the error is logged and swallowed (the "
            "order already exists), and nothing will ever try again. The transactional "
            "outbox exists precisely so that the event is committed with the order and "
            "published later, by a relay that retries until Redis accepts it."
        ),
        fix=(
            "Write the event to the outbox table in the order's transaction and let the relay "
            "publish it: it reads unpublished events, appends them to the stream, enqueues the "
            "payment, and only then marks them published. During an outage the backlog grows; "
            "afterwards it drains. Delivery becomes at least once, so consumers (the payment "
            "capture) must be idempotent. Here: `faultyard switch publish_after_commit off`, "
            "or `make scenario redis-outage FIXED=1`."
        ),
        further_reading=(
            Link(
                title="microservices.io: Pattern: Transactional outbox",
                url="https://microservices.io/patterns/data/transactional-outbox.html",
            ),
            Link(
                title="Debezium: Reliable microservices data exchange with the outbox pattern",
                url="https://debezium.io/blog/2019/02/19/reliable-microservices-data-exchange-with-the-outbox-pattern/",
            ),
            Link(
                title="Redis: Streams (XADD, consumer groups)",
                url="https://redis.io/docs/latest/develop/data-types/streams/",
            ),
            Link(
                title="RQ: Jobs and retries",
                url="https://python-rq.org/docs/jobs/",
            ),
        ),
    ),
    answer=AnswerKey(
        component="redis",
        related_components=("shop", "job-queue"),
        root_cause="dual-write-after-commit",
        keywords=("dual write", "outbox", "after commit", "lost", "redis"),
        choices=(
            f"{DUAL_WRITE}; while Redis is down those writes fail and are never retried",
            RETRY_STORM,
            LOST_UPDATE,
            SESSION_LEAK,
        ),
        correct_choice=0,
    ),
)
