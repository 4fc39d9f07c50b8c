"""limiter-fail-closed: the rate limiter's Redis goes away, and every limited route answers 500."""

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
    CATALOG_ANSWERS,
    CHECKOUT_ROUTE,
    CHECKOUTS_BY_OUTCOME,
    DUAL_WRITE,
    LOST_UPDATE,
    SESSION_LEAK,
    error_ratio,
    rate,
)

CHECKOUT_ERRORS = error_ratio(CHECKOUT_ROUTE)
BUY_NOW_ERRORS = error_ratio("/orders")
IN_MEMORY = rate('shop_rate_limit_checks_total{storage="memory"}')
FAILS_CLOSED = (
    "The rate limiter treats its storage's errors as the request's: with Redis down, every "
    "limited route fails"
)

SCENARIO = Scenario(
    name="limiter-fail-closed",
    title="A Redis outage takes buying down with it",
    difficulty="beginner",
    page=(
        "For a minute this afternoon nobody could buy anything: every checkout and every "
        "buy-now answered 500, while the catalog and the product pages worked. The orders "
        "database was fine the whole time. It ended by itself."
    ),
    faults=(
        ProxyDown(proxy="redis"),
        Switch(name="rate_limiter_fails_closed", value=True),
    ),
    fix=(Switch(name="rate_limiter_fails_closed", value=False),),
    load=LoadProfile(
        users=12,
        spawn_rate=12,
        duration_s=30,
        journeys={"Buyer": 6, "MobileBuyer": 2, "Browser": 4},
    ),
    symptoms=(
        PromQLProbe(
            name="checkouts_fail",
            expr=CHECKOUT_ERRORS,
            comparator=">",
            threshold=0.5,
            description="more than half of the checkouts answer 5xx",
        ),
        PromQLProbe(
            name="buy_now_fails",
            expr=BUY_NOW_ERRORS,
            comparator=">",
            threshold=0.5,
            description="more than half of the buy-now purchases answer 5xx",
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
            name="checkout_errors_below_1pct",
            expr=CHECKOUT_ERRORS,
            comparator="<",
            threshold=0.01,
            description="checkout keeps working without Redis: fewer than 1 % answer 5xx",
        ),
        PromQLProbe(
            name="buy_now_errors_below_1pct",
            expr=BUY_NOW_ERRORS,
            comparator="<",
            threshold=0.01,
            description="buy now keeps working without Redis: fewer than 1 % answer 5xx",
        ),
        CATALOG_ANSWERS,
    ),
    key_series=(
        CHECKOUTS_BY_OUTCOME,
        Series(
            title="5xx share: checkout and buy now",
            expr=f"{CHECKOUT_ERRORS} or {BUY_NOW_ERRORS}",
        ),
        Series(
            title="Rate-limit checks/s by storage",
            expr="sum by (storage) (rate(shop_rate_limit_checks_total[10s]))",
            unit="1/s",
        ),
        Series(title="Rate-limit checks counted in memory/s", expr=IN_MEMORY, unit="1/s"),
    ),
    guide=Guide(
        where_to_look=(
            "The Overview dashboard's Errors by status and route: only the routes with a rate "
            "limit (checkout, buy now, login) fail; the catalog does not.",
            "`/readyz` answers 503 naming Redis, and `faultyard status` shows the `redis` proxy "
            "down: the outage itself, which the shop should survive.",
            "`faultyard logs app --grep 'unhandled error'`: the 500s' tracebacks end in "
            "redis-py's ConnectionError, raised from `limits` and Flask-Limiter, before the "
            "checkout's own code ran.",
            "`shop_rate_limit_checks_total` by storage: the limiter's calls to Redis stop, "
            "and none are counted in memory instead.",
        ),
        what_you_will_see=(
            "Checkout and buy now answering 500 for as long as Redis is unreachable, and at "
            "once: each request fails on the limiter's first call to Redis.",
            "The orders database idle and healthy, the catalog answering: the purchase path "
            "itself never needed Redis (its events go through the outbox).",
            "Everything back the moment Redis is: nothing was lost, nothing was bought.",
        ),
        root_cause=(
            "The rate limits are counted in Redis (so that every worker shares them), and the "
            "limiter is set to fail closed: when its storage raises, the request fails. A "
            "rate limit is a safeguard, not a dependency of the purchase; making it one turned "
            "an outage of a cache into an outage of buying."
        ),
        fix=(
            "Decide, per limit, what happens when its storage is away, and for a shop's "
            "limits fail open: here each process counts in its own memory while Redis is "
            "unreachable (a weaker limit for a while: each process counts alone), tries Redis "
            'again every 2 s, and says so (`shop_rate_limit_checks_total{storage="memory"}`, '
            "alert RateLimiterDegraded). Flask-Limiter has the same idea built in "
            "(`RATELIMIT_IN_MEMORY_FALLBACK_ENABLED`, `RATELIMIT_SWALLOW_ERRORS`). Here: "
            "`faultyard switch rate_limiter_fails_closed off`, or `make scenario "
            "limiter-fail-closed FIXED=1`."
        ),
        further_reading=(
            Link(
                title="Flask-Limiter: configuration (storage errors, in-memory fallback)",
                url="https://flask-limiter.readthedocs.io/en/stable/configuration.html",
            ),
            Link(
                title="limits: storage backends",
                url="https://limits.readthedocs.io/en/stable/storage.html",
            ),
            Link(
                title="AWS Builders' Library: Fairness in multi-tenant systems (rate limits)",
                url="https://aws.amazon.com/builders-library/fairness-in-multi-tenant-systems/",
            ),
        ),
    ),
    answer=AnswerKey(
        component="shop",
        related_components=("redis",),
        root_cause="rate-limiter-fails-closed",
        keywords=("rate limit", "limiter", "fail open", "fail closed", "fallback"),
        choices=(FAILS_CLOSED, DUAL_WRITE, LOST_UPDATE, SESSION_LEAK),
        correct_choice=0,
    ),
)
