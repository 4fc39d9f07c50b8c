"""graceful-shutdown: a deploy under load, and processes that quit at once on SIGTERM."""

from __future__ import annotations

from chaos.scenarios.model import (
    AnswerKey,
    Deploy,
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
from scenarios._common import FEW_ERRORS, rate

#: A capture takes this long at the simulated provider: a worker is mid-job often, as in a
#: real shop whose provider answers in a few hundred milliseconds.
PAYMENT_DELAY_MS = 300
DROPPED = 'faultyard_proxy_requests_dropped_total{proxy="shop"}'
#: Requests the shop dropped in the last 15 s: connections its workers ended without an answer.
DROPPED_RECENTLY = f"sum(increase({DROPPED}[15s])) or vector(0)"
#: Orders of the last 20 s still pending payment 5 s after checkout (paid within a second
#: normally): a payment job lost with its worker leaves its order waiting until RQ calls the
#: job abandoned (its 30 s timeout). A short window, so that once the deploy is over the
#: orders it hit leave it: the run's recovery waits for the SLO to hold again.
STUCK_ORDERS = """
SELECT count(*) FROM orders
WHERE status = 'pending_payment'
  AND created_at BETWEEN now() - interval '20 seconds' AND now() - interval '5 seconds'
"""
QUIT_AT_ONCE = (
    "On a deploy's SIGTERM the shop's processes exit at once instead of finishing their "
    "requests and jobs"
)

SCENARIO = Scenario(
    name="graceful-shutdown",
    title="Every deploy drops requests and loses payments",
    difficulty="intermediate",
    page=(
        "Support has a pattern: each time the team ships, a handful of customers see "
        "'connection reset' in the app, and a few orders from those minutes stay 'pending "
        "payment' far longer than the usual second. The deploy itself is a routine rolling "
        "restart of the shop and the payment workers; nothing else changed, and the error "
        "rate on the dashboards barely moves."
    ),
    faults=(
        Setting(name="payment_delay_ms", value=PAYMENT_DELAY_MS),
        Switch(name="exit_at_once_on_sigterm", value=True),
        Deploy(service="app"),
        Deploy(service="worker-1"),
        Deploy(service="worker-2"),
    ),
    fix=(Switch(name="exit_at_once_on_sigterm", value=False),),
    load=LoadProfile(
        users=16,
        spawn_rate=16,
        duration_s=30,
        journeys={"Buyer": 8, "Browser": 4, "LongPoller": 4},
    ),
    symptoms=(
        PromQLProbe(
            name="requests_dropped",
            expr=DROPPED_RECENTLY,
            comparator=">",
            threshold=0,
            description="the shop's workers ended connections with a request unanswered "
            "(in the last 15 s, as the proxy in front of the shop counts them)",
        ),
        SQLProbe(
            name="orders_stuck_pending",
            sql=STUCK_ORDERS,
            comparator=">",
            threshold=0,
            description="orders of the last 20 s still pending payment 5 s after checkout",
        ),
    ),
    slo=(
        PromQLProbe(
            name="no_request_dropped",
            expr=DROPPED_RECENTLY,
            comparator="==",
            threshold=0,
            description="a deploy drops no request: each one in flight is answered",
        ),
        SQLProbe(
            name="orders_paid_in_time",
            sql=STUCK_ORDERS,
            comparator="<=",
            threshold=0,
            description="every order is paid within 5 s of checkout, deploys or not",
        ),
        FEW_ERRORS,
    ),
    key_series=(
        Series(
            title="Requests dropped by the shop/s (at the proxy)",
            expr=f"sum(rate({DROPPED}[10s])) or vector(0)",
            unit="1/s",
        ),
        Series(
            title="Payment jobs in RQ's started registry",
            expr='sum(rq_jobs{queue="payments",status="started"})',
        ),
        Series(
            title="RQ workers busy",
            expr='count(rq_workers{state="busy"}) or vector(0)',
        ),
        Series(
            title="Payments captured/s",
            expr=rate('shop_jobs_total{function="capture_payment",outcome="succeeded"}'),
            unit="1/s",
        ),
    ),
    guide=Guide(
        where_to_look=(
            "The moment of the deploy: `faultyard logs --since 2m --level warning` (every "
            "service's lines, merged in time order). A graceful stop finishes what it holds "
            "(RQ: the job's last lines come before the worker's 'stopped'); here each old "
            "process logs one line on SIGTERM and is gone within milliseconds, with requests "
            "and a job in hand.",
            "The clients' side: requests that ended with no answer at all, not a 5xx. The "
            "shop's own metrics cannot count them (the process that would have counted is "
            "gone); the proxy in front of it can: "
            '`faultyard_proxy_requests_dropped_total{proxy="shop"}`.',
            'rq-dashboard (http://127.0.0.1:19181) and `rq_jobs{status="started"}`: a '
            "payment job still 'started' with no busy worker left to run it, and in "
            "PostgreSQL its order still `pending_payment` long after its neighbours were "
            "paid.",
        ),
        what_you_will_see=(
            "A few requests dropped at each deploy of the shop (the ones in flight in the old "
            "workers), and no 5xx for them on the shop's dashboards.",
            "One payment job lost at each worker's restart, its order pending payment: RQ "
            "calls the job abandoned only once its timeout (30 s here, often far longer) has "
            "passed, and only then runs its failure handling (here a retry).",
            "Everything normal again a second later: the new processes work fine.",
        ),
        root_cause=(
            "SIGTERM is a request to stop, not an order to die: it gives a process the "
            "chance to finish what it holds. The shop installed its own SIGTERM handler, to "
            "flush its telemetry and make deploys quick, that ends the process right away. "
            "It runs before gunicorn's graceful shutdown (stop accepting, finish the requests "
            "in flight within `graceful_timeout`) and instead of RQ's warm shutdown (finish "
            "the current job). So every request in an old shop worker is cut mid-way, and the "
            "payment job an RQ worker was running stays in the started registry with nobody "
            "to finish it."
        ),
        fix=(
            "Leave SIGTERM to the servers: gunicorn finishes the requests in flight (keep "
            "`graceful_timeout` longer than the slowest request, and the deploy's stop "
            "timeout longer than that), RQ finishes its job (keep jobs shorter than the stop "
            "timeout, or make them resumable). Flush telemetry in the shutdown hooks that run "
            "after the work is done (gunicorn's `worker_exit`). Since a process can still die "
            "without warning (SIGKILL, out of memory), make jobs safe to run twice and put "
            "back a dead worker's job when its successor starts. Here: `faultyard switch "
            "exit_at_once_on_sigterm off`, or `make scenario graceful-shutdown FIXED=1`."
        ),
        further_reading=(
            Link(
                title="gunicorn: signal handling and graceful_timeout",
                url="https://docs.gunicorn.org/en/stable/signals.html",
            ),
            Link(
                title="RQ: workers, warm and cold shutdown",
                url="https://python-rq.org/docs/workers/",
            ),
            Link(
                title="Kubernetes: termination of pods (SIGTERM, grace period, SIGKILL)",
                url="https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination",
            ),
        ),
    ),
    answer=AnswerKey(
        component="shop",
        related_components=("job-queue",),
        root_cause="processes-exit-at-once-on-sigterm",
        keywords=("sigterm", "graceful", "shutdown", "exit at once", "in flight", "in-flight"),
        choices=(
            QUIT_AT_ONCE,
            "The new release has a bug that fails some requests",
            "The payment provider loses captures during deploys",
        ),
        correct_choice=0,
    ),
)
