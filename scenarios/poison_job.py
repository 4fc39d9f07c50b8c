"""poison-job: a payment declined for good is retried for ever and starves the payments queue."""

from __future__ import annotations

from chaos.scenarios.model import (
    AnswerKey,
    Guide,
    Link,
    LoadProfile,
    PromQLProbe,
    Scenario,
    Series,
    Setting,
    SQLProbe,
    Switch,
)
from scenarios._common import few_checkout_errors, rate

#: The card limit the provider enforces: about one order in eight of the Buyers' is over it.
DECLINE_ABOVE_CENTS = 80_000
JOB = 'function="capture_payment"'
DECLINES = rate("shop_payments_declined_total")
ORDERS = rate('shop_checkouts_total{outcome="ok"}')
#: Declines per order placed: each order over the limit is declined once with the fix (a share
#: of the orders, below 1); retried for ever, the same few are declined again and again.
DECLINES_PER_ORDER = f"({DECLINES} or vector(0)) / clamp_min({ORDERS}, 1e-9)"
#: Orders still waiting for their payment 5 s after checkout (paid within a second normally),
#: among the last 20 s's: a declined order is not waiting, it is payment_failed.
WAITING_ORDERS = """
SELECT count(*) FROM orders
WHERE status = 'pending_payment'
  AND created_at BETWEEN now() - interval '20 seconds' AND now() - interval '5 seconds'
"""
POISON = "One payment that can never succeed is retried for ever and keeps the workers busy"

SCENARIO = Scenario(
    name="poison-job",
    title="A declined payment retried for ever starves the payments queue",
    difficulty="intermediate",
    page=(
        "Customers say their orders stay 'pending payment' for minutes, and support sees "
        "the same few orders in the payment worker logs over and over. The payment "
        "provider's status page is green, checkout works, and the workers are busy at 100 %."
    ),
    faults=(
        Setting(name="payment_decline_above_cents", value=DECLINE_ABOVE_CENTS),
        Switch(name="retry_payments_forever", value=True),
    ),
    fix=(Switch(name="retry_payments_forever", value=False),),
    load=LoadProfile(
        users=14,
        spawn_rate=14,
        duration_s=30,
        journeys={"Buyer": 8, "Browser": 4, "HistoryReader": 2},
    ),
    symptoms=(
        PromQLProbe(
            name="declined_again_and_again",
            expr=DECLINES_PER_ORDER,
            comparator=">",
            threshold=1,
            description="more payment declines than orders placed: the same declined "
            "payments come back again and again",
        ),
        SQLProbe(
            name="orders_waiting_for_payment",
            sql=WAITING_ORDERS,
            comparator=">",
            threshold=0,
            description="recent orders still pending payment 5 s after checkout",
        ),
    ),
    slo=(
        SQLProbe(
            name="orders_paid_or_failed_in_time",
            sql=WAITING_ORDERS,
            comparator="<=",
            threshold=0,
            description="every order is paid, or failed for good, within 5 s of checkout",
        ),
        PromQLProbe(
            name="each_decline_once",
            expr=DECLINES_PER_ORDER,
            comparator="<=",
            threshold=1,
            description="no more declines than orders: a declined payment is not tried again",
        ),
        few_checkout_errors(
            "checkout is unaffected: payment runs after it, through the outbox and RQ"
        ),
    ),
    key_series=(
        Series(
            title="Payment declines/s, by what the job did then",
            expr="sum by (then) (rate(shop_payments_declined_total[10s]))",
            unit="1/s",
        ),
        Series(
            title="Payments captured/s",
            expr=rate(f'shop_jobs_total{{{JOB},outcome="succeeded"}}'),
            unit="1/s",
        ),
        Series(title="Orders placed/s", expr=ORDERS, unit="1/s"),
        Series(
            title="Payments queue: waiting and dead letters",
            expr='sum by (status) (rq_jobs{queue="payments",status=~"queued|failed"})',
        ),
    ),
    guide=Guide(
        where_to_look=(
            "The Jobs dashboard (`faultyard dashboard jobs-outbox`) and rq-dashboard "
            "(http://127.0.0.1:19181): the payments queue grows while the workers are all "
            "busy, and payments captured per second fall to nothing though orders keep "
            "coming.",
            "`faultyard logs worker-1 --grep declined`: the same job ids and order ids, "
            "declined again and again, many times a second, with `retried: true`.",
            "`shop_payments_declined_total{then}` against `shop_checkouts_total`: more "
            "declines than orders. A flaky dependency fails at random, different jobs each "
            "time; a poison message fails the same job every time, for the same reason.",
            "The orders' side: `SELECT status, count(*) FROM orders GROUP BY 1` and "
            "`faultyard traces --errors`: pending orders pile up behind a handful that will "
            "never be paid, each attempt of those a failed `job capture_payment` span.",
        ),
        what_you_will_see=(
            "Within seconds of the first order over the card limit, declines climbing to many "
            "per second while orders arrive at a few per second.",
            "New orders waiting for their payment longer and longer: the workers take the "
            "declined jobs again first, because a retry goes back to the front of the queue "
            "at once.",
            "Checkout and the rest of the shop answering normally: the damage is behind the "
            "queue, where only the order's status shows it.",
        ),
        root_cause=(
            "Payments are retried until they succeed (`Retry(max=1_000_000)`, re-enqueued at "
            "the front at once), whatever the failure. That is a fine policy for a provider "
            "that times out now and then, and a disaster for a message that can never "
            "succeed: a capture the provider declines for good (over the card's limit) "
            "fails the same way every time. Each such job comes straight back to the head "
            "of the queue; two of them are enough to keep both workers busy with nothing "
            "else, and every other payment waits behind them for ever. A poison message."
        ),
        fix=(
            "Tell permanent failures from transient ones and give up on the first: the job "
            "sees the decline, sets its `retries_left` to 0, and fails; RQ moves it to the "
            "failed registry (the dead letters, where a person can look at it and replay it "
            "once the cause is fixed) and the failure callback moves its order to "
            "`payment_failed` with the reason. Transient failures keep a few retries with "
            "exponential backoff and jitter, never an unbounded count. Watch the dead "
            "letters: an alert on the failed registry growing. Here: `faultyard switch "
            "retry_payments_forever off`, or `make scenario poison-job FIXED=1`."
        ),
        further_reading=(
            Link(
                title="RQ: job retries and the failed job registry",
                url="https://python-rq.org/docs/jobs/#retrying-failed-jobs",
            ),
            Link(
                title="AWS: dead-letter queues (poison messages, maxReceiveCount)",
                url="https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html",
            ),
            Link(
                title="Google SRE book: handling overload, and retries that make it worse",
                url="https://sre.google/sre-book/handling-overload/",
            ),
        ),
    ),
    answer=AnswerKey(
        component="job-queue",
        root_cause="poison-message-retried-forever",
        keywords=("poison", "retried", "retry", "forever", "dead letter", "dead-letter", "limit"),
        choices=(
            POISON,
            "The payment provider is down and every capture fails",
            "Too few payment workers for the order rate",
        ),
        correct_choice=0,
    ),
)
