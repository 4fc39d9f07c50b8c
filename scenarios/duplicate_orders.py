"""duplicate-orders: a purchase retried after a timeout is placed twice (the key is ignored)."""

from __future__ import annotations

from chaos.scenarios.model import (
    AnswerKey,
    Guide,
    Link,
    LoadProfile,
    PromQLProbe,
    Scenario,
    Series,
    SQLProbe,
    Switch,
    Toxic,
)
from scenarios._common import (
    CHECKOUTS_BY_OUTCOME,
    DUAL_WRITE,
    IGNORED_IDEMPOTENCY_KEY,
    LOST_UPDATE,
    SLOW_DATABASE_LINK,
    error_ratio,
    quantile,
    recent_increase,
)

#: The answers' delay on a share of the shoppers' connections: past MobileBuyer's 2 s patience.
LATENCY_MS = 2500
DELAYED_SHARE = 0.3
BUY_NOW = 'route="/orders",method="POST"'
RECENT = "10s"
DUPLICATES = "max(shop_invariant_duplicate_orders)"
DUPLICATES_LATELY = recent_increase("shop_invariant_duplicate_orders", RECENT)
BUY_NOW_P50 = quantile(0.5, "shop_http_request_duration_seconds", BUY_NOW)
# Client keys that placed more than one order lately, straight from the outbox: every
# order.placed event carries the Idempotency-Key its request sent (the last 2000 events:
# the primary key bounds the scan).
KEYS_THAT_PLACED_TWO_ORDERS = """
SELECT count(*) FROM (
  SELECT 1 FROM outbox_events
  WHERE id > (SELECT max(id) FROM outbox_events) - 2000
    AND topic = 'order.placed' AND payload ? 'request_key'
    AND created_at > now() - interval '10 seconds'
  GROUP BY payload ->> 'request_key'
  HAVING count(*) > 1
) AS placed_twice
"""

SCENARIO = Scenario(
    name="duplicate-orders",
    title="Purchases retried after a timeout are placed twice",
    difficulty="intermediate",
    page=(
        "Customers of the mobile app write in that they were charged twice for one purchase: "
        "their order list shows the same item bought twice within a few seconds, and they "
        "tapped Buy once. The app's own monitoring shows more purchase requests timing out "
        "than usual. The shop's error rate is normal."
    ),
    faults=(
        Switch(name="buy_now_ignores_idempotency_key", value=True),
        # A slow network path for a share of the clients: their answers arrive after the
        # app gave up, although the shop placed the order in a few milliseconds.
        Toxic(
            proxy="shop",
            type="latency",
            attributes={"latency": LATENCY_MS},
            stream="downstream",
            toxicity=DELAYED_SHARE,
        ),
    ),
    fix=(Switch(name="buy_now_ignores_idempotency_key", value=False),),
    load=LoadProfile(
        users=10,
        spawn_rate=10,
        duration_s=30,
        journeys={"MobileBuyer": 6, "Buyer": 2, "Browser": 2},
    ),
    symptoms=(
        PromQLProbe(
            name="purchases_placed_twice",
            expr=DUPLICATES_LATELY,
            comparator=">",
            threshold=0,
            description="the exporter finds orders placed by one client Idempotency-Key more "
            "than once, in the last 10 s",
        ),
        SQLProbe(
            name="one_key_two_orders",
            sql=KEYS_THAT_PLACED_TWO_ORDERS,
            comparator=">",
            threshold=0,
            description="order.placed events of the last 10 s: one Idempotency-Key placed "
            "two orders or more",
        ),
    ),
    slo=(
        PromQLProbe(
            name="no_purchase_placed_twice",
            expr=f"({DUPLICATES_LATELY}) or vector(0)",
            comparator="==",
            threshold=0,
            description="no purchase placed twice in the last 10 s",
        ),
        PromQLProbe(
            name="buy_now_errors_below_1pct",
            expr=error_ratio("/orders"),
            comparator="<",
            threshold=0.01,
            description="fewer than 1 % of purchases (buy now) answer 5xx",
        ),
    ),
    key_series=(
        Series(title="Duplicate orders (latest 10,000)", expr=DUPLICATES),
        Series(title=f"Purchases placed twice, last {RECENT}", expr=DUPLICATES_LATELY),
        CHECKOUTS_BY_OUTCOME,
        Series(title="Buy now p50 (server side)", expr=BUY_NOW_P50, unit="s"),
    ),
    guide=Guide(
        where_to_look=(
            "The Jobs & Outbox dashboard (`faultyard dashboard jobs-outbox`), row Invariants: "
            "`shop_invariant_duplicate_orders` climbs and `BusinessInvariantBroken` fires. "
            "Nothing else is red: every request the shop served, it served fast and right.",
            "The shop's own latency for `POST /orders` stays at a few milliseconds while the "
            "clients time out: the time is lost between the shop and the client. Compare the "
            "server's histogram with what the load generator saw (Locust's numbers in the run "
            "report: `/orders [buy now]` failures 'no answer within 2 s', then `[buy now, "
            "retried]`).",
            "The orders: every `order.placed` event carries the client's Idempotency-Key as "
            "`request_key`. In psql: `SELECT payload->>'request_key' AS key, "
            "array_agg((payload->>'order_id')::int) FROM outbox_events WHERE topic = "
            "'order.placed' AND payload ? 'request_key' GROUP BY 1 HAVING count(*) > 1 ORDER BY "
            "max(id) DESC LIMIT 10;` lists keys that placed several orders.",
            '`faultyard logs app --grep \'"route":"/orders"\'`: every purchase answered '
            "201 within milliseconds (`duration_ms`), none 200 (a replay): the shop never saw "
            "the client give up on an answer that was still on its way. Checkout counts "
            '(`shop_checkouts_total{outcome="replayed"}`) stay at zero.',
        ),
        what_you_will_see=(
            "Duplicate orders within seconds of the slow path appearing: one per purchase "
            "whose first answer the app never got, two when both attempts timed out.",
            "Every attempt answered 201 by the shop, fast: no error rate, no server latency "
            "alert. The client's timeouts are visible only from the client side.",
            "With the fix, the same timeouts end in 200 answers with `Idempotent-Replayed: "
            "true`: the retry gets the order the first attempt placed, and nobody pays twice.",
        ),
        root_cause=(
            "A purchase (`POST /orders`, buy now) creates a new order on every request: unlike "
            "a cart checkout, which a cart allows only once, nothing in the request itself "
            "tells a retry from a second purchase. Only the client's Idempotency-Key does, and "
            "the buy-now code never looks at it. A client on a slow network path gives up after "
            "2 s and retries with the same key, but the shop had placed the first order long "
            "before: its answer was still on its way. The retry places a second order, and the "
            "relay enqueues a second payment. Timeouts and retries are normal on mobile "
            "networks; what turns them into double charges is a non-idempotent write that "
            "ignores the key the client sends for exactly this case."
        ),
        fix=(
            "Honour the key: look up the order placed with it and return that order (200, "
            "`Idempotent-Replayed: true`) instead of placing another, and store the key with "
            "the order under a unique constraint so that two attempts racing each other cannot "
            "both insert; the loser of the race reads the winner's order and returns it. Reject "
            "the same key sent with a different purchase (422). Keep the keys long enough to "
            "outlast every retry (Stripe keeps them 24 h). Here: `faultyard switch "
            "buy_now_ignores_idempotency_key off`, or `make scenario duplicate-orders FIXED=1` "
            "to watch the same timeouts end in replays."
        ),
        further_reading=(
            Link(
                title="IETF draft: The Idempotency-Key HTTP Header Field",
                url="https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/",
            ),
            Link(
                title="Stripe API: Idempotent requests",
                url="https://docs.stripe.com/api/idempotent_requests",
            ),
            Link(
                title="Brandur Leach: Implementing Stripe-like Idempotency Keys in Postgres",
                url="https://brandur.org/idempotency-keys",
            ),
            Link(
                title="AWS Builders' Library: Making retries safe with idempotent APIs",
                url="https://aws.amazon.com/builders-library/making-retries-safe-with-idempotent-APIs/",
            ),
        ),
    ),
    answer=AnswerKey(
        component="shop",
        related_components=("network", "client"),
        root_cause="ignored-idempotency-key",
        keywords=("idempotency", "idempotency-key", "retry", "timeout", "duplicate"),
        choices=(
            f"{IGNORED_IDEMPOTENCY_KEY}; a client's retry after a timeout places a second order",
            LOST_UPDATE,
            DUAL_WRITE,
            SLOW_DATABASE_LINK,
        ),
        correct_choice=0,
    ),
)
