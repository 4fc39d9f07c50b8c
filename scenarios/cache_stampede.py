"""cache-stampede: the front page's cached best sellers expire, and every request recomputes them."""

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
    Switch,
)
from scenarios._common import FEW_ERRORS, SLOW_DATABASE_LINK, quantile, rate

HIGHLIGHTS_ROUTE = "/products/highlights"
#: The freshness the marketing team asked for (the runtime setting highlights_ttl_s).
TTL_S = 5
_RECOMPUTES = 'shop_cache_recomputes_total{key="highlights"}'
_OVERLAPPING = 'shop_cache_recomputes_total{key="highlights",overlapping="yes"}'
#: Recomputations per lifetime of the entry: 1 when one request recomputes it at each expiry,
#: N when N do (over a 15 s window: three expiries, or fewer just after injection).
RECOMPUTES_PER_EXPIRY = f"{rate(_RECOMPUTES, '15s')} * {TTL_S}"
#: The share of recomputations that ran while another one of the same entry was running.
OVERLAPPING_SHARE = (
    f"({rate(_OVERLAPPING, '15s')} or vector(0)) / clamp_min({rate(_RECOMPUTES, '15s')}, 1e-9)"
)
STAMPEDE = "When the cached best sellers expire, every request that misses recomputes them at once"

SCENARIO = Scenario(
    name="cache-stampede",
    title="Fresher best sellers, and the database chokes every five seconds",
    difficulty="intermediate",
    page=(
        "Marketing asked for fresher best sellers on the front page, so this morning their "
        "cache lifetime went from a minute to five seconds. Since then the front page is "
        "slow in waves: every few seconds it takes many times its usual time, the "
        "database's CPU spikes, then all is quiet again until the next wave."
    ),
    faults=(
        Setting(name="highlights_ttl_s", value=TTL_S),
        Switch(name="highlights_recompute_on_every_miss", value=True),
    ),
    fix=(Switch(name="highlights_recompute_on_every_miss", value=False),),
    load=LoadProfile(
        users=16,
        spawn_rate=16,
        duration_s=30,
        journeys={"Visitor": 12, "Browser": 4},
    ),
    symptoms=(
        PromQLProbe(
            name="overlapping_recomputes",
            expr=OVERLAPPING_SHARE,
            comparator=">",
            threshold=0.25,
            description="more than a quarter of the recomputations run while another one of "
            "the same entry is running",
        ),
        PromQLProbe(
            name="recomputes_per_expiry",
            expr=RECOMPUTES_PER_EXPIRY,
            comparator=">",
            # With the fix: one recomputation every 5 s and a bit (the next starts 5 s after
            # the last one ended), so three at most in any 15 s: 1.07, up to 1.15 with rate()'s
            # extrapolation (measured in 10 runs); four would read 1.43.
            threshold=1.25,
            description="the best sellers are recomputed more than 1.25 times per lifetime "
            "(5 s) of their cache entry",
        ),
    ),
    slo=(
        PromQLProbe(
            name="one_recompute_per_expiry",
            expr=RECOMPUTES_PER_EXPIRY,
            comparator="<=",
            threshold=1.5,
            description="the best sellers are recomputed about once per lifetime of their "
            "cache entry (at most 1.5 times per 5 s)",
        ),
        FEW_ERRORS,
    ),
    key_series=(
        Series(
            title="Best sellers recomputed per s (overlapping another or not)",
            expr=f"sum by (overlapping) (rate({_RECOMPUTES}[5s]))",
            unit="1/s",
        ),
        Series(
            title="Best sellers reads per s by result",
            expr='sum by (result) (rate(shop_cache_reads_total{key="highlights"}[5s]))',
            unit="1/s",
        ),
        Series(
            title="Front page p99",
            expr=quantile(
                0.99, "shop_http_request_duration_seconds", f'route="{HIGHLIGHTS_ROUTE}"', "5s"
            ),
            unit="s",
        ),
        Series(
            title="PostgreSQL CPU (cores)",
            expr='sum(rate(faultyard_process_cpu_seconds_total{service="postgres"}[5s]))',
        ),
    ),
    guide=Guide(
        where_to_look=(
            "The front page's latency with a short window (`histogram_quantile(0.99, ... "
            'route="/products/highlights" ...[5s])`): a saw-tooth with one tooth per cache '
            "lifetime, next to PostgreSQL's CPU (`faultyard_process_cpu_seconds_total"
            '{service="postgres"}`) spiking at the same instants. Waves at a fixed period '
            "point at something that expires, not at load.",
            'The shop\'s cache metrics: `shop_cache_reads_total{key="highlights"}` by result '
            "and `shop_cache_recomputes_total` by whether another recomputation of the same "
            "entry was running (`overlapping`). Recomputations per second times the lifetime "
            "is how many requests recompute each expiry: it should be one.",
            "`faultyard traces --slowest 5`: the slow front-page requests each run the same "
            "order-history query (a join of `order_items` and `orders` over a year), started "
            "within milliseconds of each other.",
        ),
        what_you_will_see=(
            "Every five seconds, several front-page requests miss the cache together and each "
            "recomputes the best sellers: three, five, ten identical heavy queries at once, "
            "each slower because of the others, so more requests arrive and miss meanwhile.",
            "Recomputations per expiry well above one, most of them overlapping another; the "
            "front page's p99 in teeth, the database's CPU in spikes, quiet in between.",
        ),
        root_cause=(
            "The best sellers are cached in Redis with a plain expiry, and the read path is "
            "the textbook one: get, and on a miss compute and set. Nothing stops the requests "
            "that miss at the same time from all computing: at the instant the entry expires, "
            "every request arriving during the recomputation (the arrival rate times the "
            "query's duration) misses too. The identical queries compete for the database's "
            "cores, each takes longer, and the window in which requests miss grows with them. "
            "A five-second lifetime turns a rare event into a wave every five seconds."
        ),
        fix=(
            "Single flight with stale-while-revalidate: keep the entry in Redis well past its "
            "freshness, with the time it was computed inside. A request that finds it stale "
            "tries to take a lock without waiting (redis-py's `Lock`, SET NX with an expiry, "
            "released by its holder only); the one that gets it recomputes, every other "
            "request gets the stale copy at once, so one recomputation runs per expiry and "
            "nobody waits for it. Only with no copy at all do requests wait, briefly, for the "
            "lock's holder. Probabilistic early expiration (XFetch) is the lock-free "
            "alternative. Here: `faultyard switch highlights_recompute_on_every_miss off`, or "
            "`make scenario cache-stampede FIXED=1`."
        ),
        further_reading=(
            Link(
                title="Vattani, Chierichetti, Lowenstein: Optimal Probabilistic Cache Stampede "
                "Prevention (XFetch)",
                url="https://cseweb.ucsd.edu/~avattani/papers/cache_stampede.pdf",
            ),
            Link(
                title="RFC 5861: HTTP Cache-Control extensions for stale content "
                "(stale-while-revalidate)",
                url="https://www.rfc-editor.org/rfc/rfc5861",
            ),
            Link(
                title="redis-py: Lock (distributed lock with an expiry)",
                url="https://redis-py.readthedocs.io/en/stable/lock.html",
            ),
        ),
    ),
    answer=AnswerKey(
        component="shop",
        root_cause="cache-stampede-on-expiry",
        keywords=("stampede", "single flight", "single-flight", "dogpile", "stale", "lock"),
        choices=(STAMPEDE, SLOW_DATABASE_LINK, "The front page's query lost its index"),
        correct_choice=0,
    ),
)
