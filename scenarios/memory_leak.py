"""memory-leak: a per-request memo keeps every search suggestion's ranking for ever."""

from __future__ import annotations

from chaos.scenarios.model import (
    AnswerKey,
    Guide,
    Link,
    LoadProfile,
    PromQLProbe,
    Reload,
    Scenario,
    Series,
    Switch,
)
from scenarios._common import CATALOG_ANSWERS, FEW_ERRORS, N_PLUS_ONE, rate

SUGGEST_ROUTE = "/products/suggest"
SHOP_RSS = 'faultyard_process_resident_memory_bytes{service="app"}'
#: Bytes per second the shop's resident memory grows by, over the last 10 s. A worker's memory
#: also rises in one-off steps (the first burst of concurrent requests after a deploy, an
#: allocator arena): a step of S bytes reads as up to 1.5 S / 10 s here for 10 s, a few
#: hundred KiB/s for the 3 to 5 MiB steps measured with the fix on, where the leak climbs by
#: 6 to 7 MiB/s under this load (about 250 KiB per suggestion, 27 suggestions a second).
RSS_GROWTH = f"sum(deriv({SHOP_RSS}[10s]))"
GROWTH_LIMIT = 2 * 1024 * 1024
_SUGGESTIONS = rate(f'shop_http_requests_total{{route="{SUGGEST_ROUTE}"}}', "15s")
#: Bytes the shop keeps per suggestion answered: whatever the machine's speed, a leak of
#: what each request made shows here as a steady amount (about 250 KiB with the bug).
BYTES_PER_SUGGESTION = f"{RSS_GROWTH} / clamp_min({_SUGGESTIONS}, 1e-9)"
PER_SUGGESTION_LIMIT = 128 * 1024
LEAK = "Something kept for every request (a memo keyed by a per-request object) is never freed"

SCENARIO = Scenario(
    name="memory-leak",
    title="Search suggestions that are never forgotten",
    difficulty="intermediate",
    page=(
        "Since the search box started suggesting products as people type, the shop's "
        "memory graph has been a ramp: the workers grow by megabytes a minute and never give "
        "it back. Nothing is slow yet and nothing errors, but the hosting team says the "
        "workers will be killed for memory by tonight."
    ),
    faults=(Switch(name="suggest_memo_per_request", value=True),),
    fix=(Switch(name="suggest_memo_per_request", value=False),),
    # Memory the leak held goes back to the workers' allocator, not to the system: a worker's
    # resident memory stays at its high-water mark, and the next leak would refill it unseen
    # (measured: the 8th of 10 runs in a row showed no growth). A graceful reload replaces
    # the workers, as the deploy of a fix does in production.
    rollbacks=(Reload(service="app"),),
    load=LoadProfile(
        users=16,
        spawn_rate=16,
        duration_s=30,
        journeys={"Browser": 8, "Typer": 6, "CartBuilder": 2},
    ),
    symptoms=(
        PromQLProbe(
            name="rss_climbs",
            expr=RSS_GROWTH,
            comparator=">",
            threshold=GROWTH_LIMIT,
            description="the shop's resident memory grows by more than 2 MiB/s",
        ),
        PromQLProbe(
            name="kept_per_suggestion",
            expr=BYTES_PER_SUGGESTION,
            comparator=">",
            threshold=PER_SUGGESTION_LIMIT,
            description="the shop keeps more than 128 KiB of memory per suggestion it answers",
        ),
    ),
    slo=(
        PromQLProbe(
            name="rss_steady",
            expr=RSS_GROWTH,
            comparator="<=",
            threshold=GROWTH_LIMIT,
            description="the shop's resident memory grows by 2 MiB/s or less",
        ),
        FEW_ERRORS,
        CATALOG_ANSWERS,
    ),
    key_series=(
        Series(title="Shop resident memory", expr=SHOP_RSS, unit="bytes"),
        Series(title="Shop memory growth (per s)", expr=RSS_GROWTH, unit="bytes"),
        Series(title="Memory kept per suggestion", expr=BYTES_PER_SUGGESTION, unit="bytes"),
        Series(title="Suggestions per second", expr=_SUGGESTIONS, unit="1/s"),
    ),
    guide=Guide(
        where_to_look=(
            "The Runtime dashboard (`faultyard dashboard runtime`): resident memory by "
            "service (`faultyard_process_resident_memory_bytes`). A leak is a ramp that does "
            "not level off; a cache filling up levels off at its bound. The `MemoryGrowth` "
            "alert fires when it has climbed for 30 s.",
            "Divide the growth by the traffic of each route (`shop_http_requests_total`): the "
            "memory kept per search suggestion is about a quarter of a megabyte and steady, "
            "whatever the load; per other request, nothing. Memory that grows with one route's requests "
            "is kept by that route's code.",
            'Ask a worker what it holds, twice, a minute apart: `curl -H "Authorization: '
            'Bearer $(cat .faultyard/admin-token)" '
            "'http://127.0.0.1:18000/admin/memory?top=40'` counts its live objects by type "
            "(`pid` says which worker answered). `target_app.schemas.ProductOut` (and the "
            "`set` each carries) climb by tens of thousands, and further down "
            "`target_app.services.suggest.Suggester`, one per suggestion the worker answered: "
            "a per-request object that should have died with its request.",
            "In code, `tracemalloc` does the same by line: `tracemalloc.start()`, a snapshot, "
            "traffic, a second snapshot, `second.compare_to(first, 'lineno')[:10]`; the "
            "growth is in `Suggester.matches`, held by `functools.cache`.",
        ),
        what_you_will_see=(
            "The shop's memory climbing by megabytes a second under the typing load, within "
            "seconds of the release, and never coming down: no error, no slow request.",
            "A steady quarter of a megabyte or so kept per suggestion answered, where any "
            "other route keeps nothing lasting.",
            "Object counts of one worker: product schemas (`ProductOut`) by the tens of "
            "thousands, and a `Suggester` for every suggestion request the worker answered.",
        ),
        root_cause=(
            "The suggestions rank their matches in a method of a `Suggester`, an object made "
            "for each request, and the ranking is memoized with `functools.cache` so that the "
            "shown products and the count do not rank twice. But `functools.cache` keys on "
            "the call's arguments, `self` included, and keeps them for ever: every request's "
            "Suggester, with its whole ranking (every product that matched any word typed: "
            "hundreds as soon as a one-letter word starts) stays reachable from the method's "
            "cache, which nothing empties. The cache never hits (no two requests share a "
            "Suggester) and grows by one entry per keystroke of every shopper. flake8-bugbear "
            "flags it (B019)."
        ),
        fix=(
            "Rank once per request into a local variable: the memo was only ever meant for "
            "the length of one request. If answers are worth caching, cache what is shown, "
            "keyed by something bounded, in a bounded cache: here a `cachetools.TTLCache` "
            "(128 texts, 60 s) keyed by the normalised text, which the keystrokes of many "
            "shoppers do share, each answer kept as the JSON it is sent as (a kilobyte, "
            "where the schema objects took ten). Until a fix ships, gunicorn's `max_requests` recycles workers "
            "before they are killed for memory (it hides the leak, it does not fix it). "
            "Here: `faultyard switch suggest_memo_per_request off`, or `make scenario "
            "memory-leak FIXED=1`."
        ),
        further_reading=(
            Link(
                title="Python: tracemalloc (snapshots, compare_to)",
                url="https://docs.python.org/3/library/tracemalloc.html",
            ),
            Link(
                title="flake8-bugbear B019: functools.cache on methods leaks",
                url="https://github.com/PyCQA/flake8-bugbear#list-of-warnings",
            ),
            Link(
                title="cachetools: bounded LRU and TTL caches",
                url="https://cachetools.readthedocs.io/",
            ),
            Link(
                title="gunicorn: max_requests (recycling workers)",
                url="https://docs.gunicorn.org/en/stable/settings.html#max-requests",
            ),
        ),
    ),
    answer=AnswerKey(
        component="shop",
        root_cause="unbounded-per-request-memo",
        keywords=("leak", "memoiz", "functools", "unbounded", "per-request", "b019"),
        choices=(LEAK, N_PLUS_ONE, "The shop has too few gunicorn workers for the traffic"),
        correct_choice=0,
    ),
)
