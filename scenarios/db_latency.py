"""db-latency: latency with jitter on the link to PostgreSQL slows every route that uses it."""

from __future__ import annotations

from chaos.scenarios.model import (
    AnswerKey,
    Guide,
    HTTPProbe,
    Link,
    LoadProfile,
    PromQLProbe,
    Scenario,
    Series,
    Setting,
    Toxic,
)
from scenarios._common import (
    CATALOG_ROUTES,
    FEW_ERRORS,
    SESSION_LEAK,
    SLOW_DATABASE_LINK,
    few_checkout_errors,
    quantile,
    rate,
)

LATENCY_MS = 100
JITTER_MS = 30
CATALOG = f'route=~"{CATALOG_ROUTES}"'
CATALOG_P99 = quantile(0.99, "shop_http_request_duration_seconds", CATALOG)
CATALOG_P90 = quantile(0.90, "shop_http_request_duration_seconds", CATALOG)
CATALOG_P75 = quantile(0.75, "shop_http_request_duration_seconds", CATALOG)
SELECT_P99 = quantile(0.99, "shop_db_statement_duration_seconds", 'operation="SELECT"')
POOL_WAIT_P99 = quantile(0.99, "shop_db_pool_checkout_wait_seconds")

SCENARIO = Scenario(
    name="db-latency",
    title="A slow network link to PostgreSQL",
    difficulty="beginner",
    page=(
        "The shop got slow all at once: product pages, search and checkout take several times "
        "longer than usual, though hardly anything fails yet. No deploy went out. "
        "The liveness check still answers instantly."
    ),
    faults=(
        Toxic(
            proxy="postgres",
            type="latency",
            attributes={"latency": LATENCY_MS, "jitter": JITTER_MS},
            stream="downstream",
        ),
    ),
    # What a real service does against a slow dependency it does not own: serve the
    # catalog from a short-lived cache so most reads never cross the slow link.
    fix=(Setting(name="catalog_cache_ttl_s", value=5),),
    load=LoadProfile(
        # On two cores, 30 shoppers already push catalog p99 past 250 ms with no fault.
        users=16,
        spawn_rate=16,
        duration_s=30,
        journeys={"Browser": 6, "Buyer": 2, "CartBuilder": 1, "HistoryReader": 1},
    ),
    symptoms=(
        PromQLProbe(
            name="catalog_reads_slow",
            expr=CATALOG_P75,
            comparator=">",
            threshold=LATENCY_MS / 1000,
            description="a quarter of catalog reads take longer than one added round trip "
            "(they take a few ms without the fault)",
        ),
        PromQLProbe(
            name="catalog_p99_slow",
            expr=CATALOG_P99,
            comparator=">",
            threshold=0.25,
            description="catalog reads (list, search, detail) p99 above 250 ms: "
            "each SQL round trip now costs the link's latency",
            caused_by_fault=True,  # the cache spares most reads, not every one
        ),
        PromQLProbe(
            name="sql_select_p99_slow",
            expr=SELECT_P99,
            comparator=">",
            threshold=LATENCY_MS / 2000,
            description="the shop times each SELECT at well over half the injected latency, "
            "though PostgreSQL runs them as fast as ever",
            caused_by_fault=True,  # the link stays slow: SQL that still crosses it is slow
        ),
        PromQLProbe(
            name="pool_checkout_wait",
            expr=POOL_WAIT_P99,
            comparator=">",
            threshold=0.01,
            description="connections are held longer, so requests start waiting for the pool",
            # The cache spares catalog reads, not checkouts: they still cross the slow link and
            # hold their connection all the while (measured: p99 wait 0.12-0.17 s with the fix).
            caused_by_fault=True,
        ),
    ),
    slo=(
        HTTPProbe(
            name="liveness_fast",
            path="/healthz",
            expect_status=200,
            max_latency_s=0.25,
            description="/healthz (no database) still answers at once: the process is fine",
        ),
        PromQLProbe(
            name="catalog_p90_below_250ms",
            expr=CATALOG_P90,
            comparator="<",
            threshold=0.25,
            description="90 % of catalog reads answer within 250 ms",
        ),
        FEW_ERRORS,
        few_checkout_errors("checkouts (which must read fresh stock) keep succeeding, if slower"),
        PromQLProbe(
            name="no_pool_timeouts",
            expr=f"{rate('shop_db_pool_checkout_timeouts_total')} or vector(0)",
            comparator="==",
            threshold=0,
            description="no request times out waiting for a pooled connection",
        ),
    ),
    key_series=(
        Series(
            title="p99 by route",
            expr="histogram_quantile(0.99, sum by (le, route) "
            "(rate(shop_http_request_duration_seconds_bucket[10s])))",
            unit="s",
        ),
        Series(title="SELECT p99 as the shop sees it", expr=SELECT_P99, unit="s"),
        Series(title="Pool connections checked out", expr="sum(shop_db_pool_checked_out)"),
        Series(title="Pool checkout wait p99", expr=POOL_WAIT_P99, unit="s"),
        Series(title="Requests in flight", expr="sum(shop_http_requests_in_flight)"),
    ),
    guide=Guide(
        where_to_look=(
            "The Overview dashboard: latency by route. Every route that touches PostgreSQL got "
            "slower by about the same step; `/healthz`, which does not, did not.",
            "The Database dashboard: statement duration as the shop measures it "
            "(`shop_db_statement_duration_seconds`) against what PostgreSQL itself reports: "
            "no lock waits, no long-running queries in `pg_stat_activity`.",
            "`shop_db_queries_per_request` by route: the slowdown of each route is roughly its "
            "number of queries times one round trip.",
            "`faultyard traces --slowest 10`: every SQL span is slow by the same amount, "
            "whatever the query; cheap `SELECT 1` pings too.",
            "From the shop's side of the link: `psql` through the proxy port "
            "(`FAULTYARD_PROXY_PG_PORT`) then `\\timing` and `SELECT 1;` takes the added latency; "
            "straight to PostgreSQL's own port it does not. `faultyard status` lists the proxy's toxics.",
        ),
        what_you_will_see=(
            f"Latency of DB-bound routes up by about {LATENCY_MS} ms (± {JITTER_MS} ms) per SQL "
            "round trip: a product page a few hundred ms, a checkout over a second.",
            "The shop's SELECT p99 near the added latency while PostgreSQL is idle: time spent "
            "on the wire, not in the database.",
            "More requests in flight and more connections checked out at once (each is held "
            "longer), then requests waiting for the pool: a slow dependency turns into pool "
            "saturation and, with enough traffic, into pool timeouts.",
            "Few errors: nothing fails, it is just slow (which is why it is easy to miss).",
        ),
        root_cause=(
            f"Every packet from PostgreSQL to the shop is delayed by {LATENCY_MS} ms ± {JITTER_MS} ms "
            "(a Toxiproxy latency toxic on the `postgres` link, standing for a congested network, "
            "a cross-zone database or a noisy neighbour). The shop talks to its database in round "
            "trips: a request that runs N statements waits N times the latency, and holds its "
            "pooled connection the whole time, so the pool serves fewer requests per second and "
            "requests queue for connections."
        ),
        fix=(
            "You cannot fix someone else's network; you limit how much of it each request pays "
            "and how long it can hurt you. Serve reads that tolerate staleness (the catalog) "
            "from a short-lived cache so most requests never cross the link; cut round trips "
            "(fewer, batched queries, no N+1); size the pool for the latency you must survive "
            "(Little's law: connections needed = request rate x time each holds one); set "
            "timeouts (pool_timeout, statement_timeout, client deadlines) so a much worse link "
            "makes requests fail fast instead of piling up. Here the fix turns on a 5 s catalog "
            "cache (setting `catalog_cache_ttl_s`); checkout still reads fresh stock and stays "
            "slower but correct. The SLO: 90 % of catalog reads within 250 ms and fewer than "
            "1 % errors, under the same latency."
        ),
        further_reading=(
            Link(
                title="SQLAlchemy: Connection Pooling (pool size, overflow and timeout)",
                url="https://docs.sqlalchemy.org/en/20/core/pooling.html",
            ),
            Link(
                title="Toxiproxy: the latency toxic",
                url="https://github.com/Shopify/toxiproxy#latency",
            ),
            Link(
                title="PostgreSQL: statement_timeout and other client connection defaults",
                url="https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-STATEMENT-TIMEOUT",
            ),
            Link(
                title="Google SRE book: Addressing Cascading Failures (queueing, deadlines)",
                url="https://sre.google/sre-book/addressing-cascading-failures/",
            ),
        ),
    ),
    answer=AnswerKey(
        component="network",
        related_components=("database",),
        remedies=("setting:catalog_cache_ttl_s",),
        root_cause="network-latency-to-database",
        keywords=("latency", "network", "round trip", "toxic", "slow link"),
        choices=(
            SLOW_DATABASE_LINK,
            "A missing index makes the catalog queries scan the whole table",
            SESSION_LEAK,
            "The gevent event loop is blocked by CPU-bound work",
        ),
        correct_choice=0,
    ),
)
