"""event-loop-block: CPU work in a request's greenlet stalls every request of its gevent worker."""

from __future__ import annotations

from chaos.scenarios.model import (
    AnswerKey,
    Guide,
    Link,
    LoadProfile,
    PromQLProbe,
    Scenario,
    Series,
    Switch,
)
from scenarios._common import (
    CATALOG_ANSWERS,
    FEW_ERRORS,
    N_PLUS_ONE,
    SLOW_DATABASE_LINK,
    quantile,
    rate,
)
from scenarios._hub import (
    HUB_BLOCKED_BY_PROCESS,
    HUB_BLOCKED_SYMPTOM,
    HUB_BLOCKS,
    HUB_FREE,
)

SIMILAR_ROUTE = "/products/<int:product_id>/similar"
#: Blocks of the shop workers' hubs per similar-products request answered: about one each
#: when the ranking holds the hub, whatever the machine's speed, as long as it takes 100 ms.
_SIMILAR_ANSWERED = rate(f'shop_http_requests_total{{route="{SIMILAR_ROUTE}"}}')
BLOCKS_PER_SIMILAR = f"{HUB_BLOCKS} / clamp_min({_SIMILAR_ANSWERED}, 1e-9) or vector(0)"
SIMILAR_P99 = quantile(0.99, "shop_http_request_duration_seconds", f'route="{SIMILAR_ROUTE}"')
ON_HUB = "A CPU-heavy computation runs in the request's greenlet and blocks the event loop"

SCENARIO = Scenario(
    name="event-loop-block",
    title="One slow computation stalls every request of its worker",
    difficulty="intermediate",
    page=(
        'Since this morning\'s release added "you may also like" to product pages, the whole '
        "shop feels sluggish now and then: catalog pages, searches and carts, not only "
        "product pages, sometimes take a third of a second or more. The database is idle "
        "and nothing errors."
    ),
    faults=(Switch(name="similar_products_on_hub", value=True),),
    fix=(Switch(name="similar_products_on_hub", value=False),),
    load=LoadProfile(
        users=16,
        spawn_rate=16,
        duration_s=30,
        journeys={"Browser": 12, "SimilarViewer": 2, "CartBuilder": 2},
    ),
    symptoms=(
        HUB_BLOCKED_SYMPTOM,
        PromQLProbe(
            name="a_block_per_similar_request",
            expr=BLOCKS_PER_SIMILAR,
            comparator=">",
            threshold=0.5,
            description="the hubs block about once per similar-products request (more than "
            "once per two): the ranking is what holds them",
        ),
    ),
    slo=(
        HUB_FREE,
        FEW_ERRORS,
        CATALOG_ANSWERS,
    ),
    key_series=(
        Series(title="Hub blocked (s per s) by process", expr=HUB_BLOCKED_BY_PROCESS),
        Series(title="Hub blocks per similar-products request", expr=BLOCKS_PER_SIMILAR),
        Series(title="Similar products p99", expr=SIMILAR_P99, unit="s"),
        Series(
            title="Shop CPU (cores)",
            expr='sum(rate(faultyard_process_cpu_seconds_total{service="app"}[10s]))',
        ),
    ),
    guide=Guide(
        where_to_look=(
            "The Runtime dashboard (`faultyard dashboard runtime`): hub blocked time and "
            "blocks/s by process (`shop_gevent_hub_blocked_seconds_total`, "
            "`shop_gevent_hub_blocks_total`), next to the shop's CPU.",
            "The Load table of the report (Locust, the clients' own clock): the p99 of routes "
            "that never changed (catalog, search, carts) jumps while their median stays low. "
            "The shop's own latency histograms hardly move: a request's clock starts when its "
            "greenlet runs, and the wait for a blocked hub came before that (in the kernel's "
            "accept queue, or in a greenlet not yet scheduled). Measure latency where the "
            "client sees it too.",
            "`faultyard logs app --grep 'hub blocked'`: gevent's monitor thread caught the hub "
            "blocked, with how long and the innermost frames of the greenlet that held it: "
            "`edit_distance` in `target_app/services/similar.py`.",
            "`faultyard traces --slowest 5`: the similar-products requests, one long span with "
            "no slow child (no SQL waits): pure CPU.",
        ),
        what_you_will_see=(
            "Hub blocked time climbing from zero, about one block per similar-products "
            "request, each as long as that request (a third to half a second here, under "
            "load): the shop's logs name `edit_distance` as the innermost frame every time.",
            "In the clients' numbers, catalog, search and cart requests with a p99 several "
            "times their usual one, while their median does not move, the database is idle "
            "and nothing errors: they are not slower, they waited.",
            "The similar-products route itself slow, but it is a small share of the traffic; "
            "the damage is to everything else that worker serves meanwhile.",
        ),
        root_cause=(
            "A gevent worker serves all its requests on one OS thread: greenlets take turns, "
            "and a turn ends only when the running greenlet waits for I/O (or calls "
            "`gevent.sleep` or `gevent.idle`). Ranking similar products is a pure-Python fuzzy match (edit "
            "distance) of the viewed name against a thousand others: no I/O, so the greenlet "
            "running it never gives the hub a turn, and for a third of a second the worker "
            "serves no one else. A thousand open connections, one CPU-bound greenlet: every "
            "other request of that worker waits for it, whatever route it is for."
        ),
        fix=(
            "Keep CPU-bound work from holding the hub. Here the ranking gives the hub a turn "
            "after every 10 candidates (`gevent.idle()`, about 3 ms of CPU apart): the "
            "worker's other requests run in between, and only the similar-products request "
            "itself takes longer. gevent's thread pool (`threadpool.apply`) looks like the "
            "obvious fix and was measured here: the hub keeps turning, but the ranking thread "
            "holds the GIL most of the time, and the hub's thread, which lets go of it "
            "whenever it waits, waits up to 5 ms (`sys.getswitchinterval()`) to get it back "
            "each time: the hubs were still blocked for over 100 ms a few times in 30 s. "
            "Best of all, do not compute it per request: rank ahead of time in an RQ job (its "
            "own process) and serve the result from a table or a cache, or give CPU-heavy "
            "routes their own sync workers. gevent's monitor thread "
            "(`GEVENT_MONITOR_THREAD_ENABLE`, `max_blocking_time`) finds such code. "
            "Here: `faultyard switch similar_products_on_hub off`, or `make scenario "
            "event-loop-block FIXED=1`."
        ),
        further_reading=(
            Link(
                title="gevent: monitoring and debugging (the monitor thread, blocking)",
                url="https://www.gevent.org/monitoring.html",
            ),
            Link(
                title="gevent: idle, sleep and cooperative scheduling",
                url="https://www.gevent.org/api/gevent.html#sleeping",
            ),
            Link(
                title="David Beazley: Understanding the Python GIL (the convoy effect)",
                url="https://www.dabeaz.com/GIL/",
            ),
            Link(
                title="gunicorn: choosing a worker type (async workers and CPU-bound work)",
                url="https://docs.gunicorn.org/en/stable/design.html#choosing-a-worker-type",
            ),
            Link(
                title="Python: sys.setswitchinterval (how threads share the GIL)",
                url="https://docs.python.org/3/library/sys.html#sys.setswitchinterval",
            ),
        ),
    ),
    answer=AnswerKey(
        component="shop",
        root_cause="cpu-work-on-event-loop",
        keywords=(
            "event loop",
            "hub",
            "greenlet",
            "cpu-bound",
            "cpu bound",
            "blocking",
            "yield",
        ),
        choices=(
            ON_HUB,
            SLOW_DATABASE_LINK,
            N_PLUS_ONE,
            "The shop has too few gunicorn workers for the traffic",
        ),
        correct_choice=0,
    ),
)
