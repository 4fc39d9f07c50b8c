"""flaky-jobs: the payment provider fails at random and the job retries at once, in a storm."""

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
from scenarios._common import (
    WINDOW,
    few_checkout_errors,
    rate,
)
from target_app.public import ShopSettings

FAILURE_RATE = 0.9
MAX_RETRIES = ShopSettings.model_construct().payment_max_retries
JOB = 'function="capture_payment"'
QUEUE_DEPTH = 'sum(rq_jobs{queue="payments",status="queued"})'
#: Two workers keep the queue below this with backoff (measured: 5 to 20 under this load).
QUEUE_LIMIT = 25
FAILURES = rate(f'shop_jobs_total{{{JOB},outcome=~"fail.*"}}')
#: Retries over the same 5 s the scheduled registry is looked at (older ones say nothing).
RETRIES = rate(f"shop_job_retries_total{{{JOB}}}", "5s")
SCHEDULED = 'sum(rq_jobs{queue="payments",status="scheduled"})'
#: Retries per order, over 30 s: the fix's retries come seconds after their orders.
SLO_RETRIES = rate(f"shop_job_retries_total{{{JOB}}}", "30s")
SLO_ORDERS = rate('shop_checkouts_total{outcome="ok"}', "30s")
#: Payment jobs done (paid, or out of retries) after more attempts than the bounded policy
#: allows (1 + its retries): none with the fix, whatever the machine's speed or the order rate.
MOST_ATTEMPTS = MAX_RETRIES + 1
ATTEMPTS_BEYOND_POLICY = (
    f"(sum(rate(shop_job_attempts_count{{{JOB}}}[{WINDOW}]))"
    f' - sum(rate(shop_job_attempts_bucket{{{JOB},le="{MOST_ATTEMPTS:.1f}"}}[{WINDOW}])))'
    " or vector(0)"
)
#: Orders still unpaid 5 s after they were placed (normally paid within a second), among the
#: last 20 s's orders: waiting for an attempt (`pending_payment`), or out of retries already
#: (`payment_failed`).
UNPAID_ORDERS = """
SELECT count(*) FROM orders
WHERE status <> 'paid'
  AND created_at BETWEEN now() - interval '20 seconds' AND now() - interval '5 seconds'
"""

SCENARIO = Scenario(
    name="flaky-jobs",
    title="Payment jobs retried at once, without backoff",
    difficulty="intermediate",
    page=(
        "Orders are stuck in 'pending payment' and the payments queue keeps growing. The "
        "payment provider's status page reports degraded service, and their support says "
        "our traffic to them has multiplied. Checkout itself still works."
    ),
    faults=(
        Setting(name="payment_failure_rate", value=FAILURE_RATE),
        Switch(name="retry_without_backoff", value=True),
    ),
    fix=(Switch(name="retry_without_backoff", value=False),),
    load=LoadProfile(
        # Fewer orders than two workers can attempt: the storm, not the order rate, fills them.
        users=12,
        spawn_rate=12,
        duration_s=40,
        journeys={"Buyer": 6, "Browser": 2, "HistoryReader": 2},
    ),
    symptoms=(
        PromQLProbe(
            name="payment_jobs_failing",
            expr=FAILURES,
            comparator=">",
            threshold=0,
            description="payment capture jobs fail",
            caused_by_fault=True,  # the provider fails; backoff does not change that
        ),
        PromQLProbe(
            name="retry_storm",
            # Backoff parks each retry in the scheduled registry for a second or more; retries
            # that keep coming (for 3 s, more than one every 2 s) while none waited there for
            # 5 s were re-enqueued at once. The first retries of a fault can be counted a
            # scrape before the registry shows them waiting: hence "keep coming".
            expr=f"min_over_time({RETRIES}[3s:1s]) unless on() max_over_time({SCHEDULED}[5s:1s]) > 0",
            comparator=">",
            threshold=0.5,
            description="failed payments are retried at once: retries keep coming while "
            "none waits in the scheduled registry",
        ),
        PromQLProbe(
            name="payment_attempts_beyond_any_bound",
            # Not the queue's depth: whether retries outrun two workers depends on the order
            # rate and the machine's speed. How many attempts a job takes does not.
            expr=ATTEMPTS_BEYOND_POLICY,
            comparator=">",
            threshold=0,
            description=f"payment jobs take more than {MOST_ATTEMPTS} attempts: each order "
            "multiplies the calls to the provider, and retries crowd out new payments",
        ),
        SQLProbe(
            name="orders_waiting_for_payment",
            sql=UNPAID_ORDERS,
            comparator=">",
            threshold=0,
            description="recent orders still unpaid 5 s after checkout",
            caused_by_fault=True,  # with backoff, a failed payment waits seconds for its retry
        ),
    ),
    slo=(
        PromQLProbe(
            name="retries_bounded",
            expr=f"({SLO_RETRIES} or vector(0)) / {SLO_ORDERS}",
            comparator="<=",
            threshold=MAX_RETRIES,
            description=f"no more than {MAX_RETRIES} retries per order on average",
        ),
        PromQLProbe(
            name="payments_queue_short",
            # Averaged over 10 s: the scheduler moves the retries that are due to the queue in
            # bursts (a session-21 regress run read 25, 11, 15, 5, 18 in a row), and a queue
            # that drains between bursts is short.
            expr=f"avg_over_time(({QUEUE_DEPTH})[10s:1s]) or vector(0)",
            comparator="<",
            threshold=QUEUE_LIMIT,
            description="the payments queue stays short (its average over 10 s)",
        ),
        few_checkout_errors(
            "checkout is unaffected: payment runs after it, through the outbox and RQ"
        ),
    ),
    key_series=(
        Series(
            title="Payment jobs/s by outcome",
            expr=f"sum by (outcome) (rate(shop_jobs_total{{{JOB}}}[10s]))",
            unit="1/s",
        ),
        Series(title="Retries/s", expr=rate(f"shop_job_retries_total{{{JOB}}}"), unit="1/s"),
        Series(
            title="Payments queue by status",
            expr='sum by (status) (rq_jobs{queue="payments"})',
        ),
        Series(
            title="Attempts per payment job (p90)",
            expr=f"histogram_quantile(0.9, sum by (le) (rate(shop_job_attempts_bucket{{{JOB}}}[{WINDOW}])))",
        ),
        Series(
            title="Jobs failed for good/s",
            expr=rate(f"shop_jobs_failed_permanently_total{{{JOB}}}"),
            unit="1/s",
        ),
    ),
    guide=Guide(
        where_to_look=(
            "The Jobs & Outbox dashboard: payment jobs by outcome, retries/s, the payments "
            "queue by status (queued, started, scheduled, failed) and job duration.",
            "rq-dashboard (`faultyard status` prints its address): the payments queue, its "
            "workers, the scheduled and failed registries, and each job's exception.",
            "`faultyard logs worker-1 --grep capture_payment`: the same order's job failing "
            "and starting again within milliseconds.",
            "Orders stuck in `pending_payment` (`GET /orders/{id}`, or SQL on `orders`), or "
            "`payment_failed` once their job ran out of retries, while checkout still answers "
            "201: the failure is downstream of the request.",
        ),
        what_you_will_see=(
            f'`shop_jobs_total{{function="capture_payment",outcome="failed"}}` high: about '
            f"{FAILURE_RATE:.0%} of attempts fail at the provider.",
            "`shop_job_retries_total` far above the order rate: each order is attempted many "
            "times in quick succession, multiplying the load on a provider that is already "
            "struggling (the retry storm its support is complaining about).",
            "`shop_job_attempts` (attempts a job took until it was paid or gave up): jobs "
            f"taking {MOST_ATTEMPTS + 1}, 8, 15 attempts, where a bounded policy stops at "
            f"{MOST_ATTEMPTS}. "
            "`histogram_quantile(0.9, sum by (le) (rate(shop_job_attempts_bucket[1m])))` "
            "shows it in one number.",
            '`rq_jobs{queue="payments",status="queued"}` growing once the retries outrun the '
            "workers: retries go straight back into the queue, ahead of new orders' first "
            "attempts (how soon depends on the order rate and on how fast the workers are).",
            "The scheduled registry empty (no retry waits for anything) and the failed registry "
            "almost empty (the budget of retries is so large that jobs rarely give up).",
        ),
        root_cause=(
            "The payment job is enqueued with a retry policy that re-runs a failed job "
            "immediately, with no delay and a large number of retries (RQ's `Retry(max=...)` "
            "without an `interval` requeues a failed job at once). When the provider "
            "degrades, every failure produces another attempt at once: the attempts per order "
            "multiply, the queue fills with retries, new payments wait behind them, and the "
            "extra traffic makes the provider's trouble worse. Retrying is right for transient "
            "failures; retrying without backoff turns a partial outage into a self-inflicted one."
        ),
        fix=(
            "Retry with exponential backoff and jitter, a bounded number of times: wait "
            "base x 2^n seconds (randomised ±50 %, so retries do not synchronise) before retry "
            f"n, stop after {MAX_RETRIES} retries, and let jobs that run out land in RQ's failed "
            "registry, visible and alerting, to be replayed once the provider is back, and "
            "their orders in `payment_failed`: a terminal state, not a payment awaited forever. "
            "RQ does "
            "this with `Retry(max=..., interval=[...])`: the waiting job sits in the scheduled "
            "registry instead of the queue. Payment capture must be idempotent so a retried or "
            "replayed job never charges twice. Here: `faultyard switch retry_without_backoff off`, "
            "or `make scenario flaky-jobs FIXED=1`."
        ),
        further_reading=(
            Link(
                title="RQ: retrying failed jobs (Retry, intervals)",
                url="https://python-rq.org/docs/exceptions/#retrying-failed-jobs",
            ),
            Link(
                title="RQ: job registries (scheduled, failed)",
                url="https://python-rq.org/docs/job_registries/",
            ),
            Link(
                title="AWS Architecture Blog: Exponential Backoff And Jitter",
                url="https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/",
            ),
            Link(
                title="Google SRE book: Addressing Cascading Failures (retries)",
                url="https://sre.google/sre-book/addressing-cascading-failures/",
            ),
        ),
    ),
    answer=AnswerKey(
        component="job-queue",
        related_components=("external-service",),
        root_cause="retry-without-backoff",
        keywords=("backoff", "back-off", "retry storm", "immediate retr", "retries at once"),
        choices=(
            "Payment jobs fail and are retried immediately, many times, flooding the queue",
            "The payment job has a bug and fails on every order",
            "Redis is down, so payment jobs cannot be enqueued",
            "The RQ workers were stopped",
        ),
        correct_choice=0,
    ),
)
