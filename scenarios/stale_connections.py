"""stale-connections: the network drops idle pooled connections; a pool without pre-ping hands them out."""

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
    Toxic,
)
from scenarios._common import (
    CATALOG_ANSWERS,
    CATALOG_ROUTES,
    FEW_ERRORS,
    SESSION_LEAK,
    SLOW_DATABASE_LINK,
    STALE_POOL,
    error_ratio,
    rate,
)

#: A firewall's idle timeout, scaled down from minutes to half a second so the run fits in a
#: minute: under this load a pooled connection often waits longer than that for its next use.
IDLE_TIMEOUT_MS = 500
DETAIL_ROUTE = "/products/<int:product_id>"
CATALOG_ERRORS = error_ratio(CATALOG_ROUTES)
DETAIL_503 = rate(f'shop_http_requests_total{{route="{DETAIL_ROUTE}",status="503"}}')

SCENARIO = Scenario(
    name="stale-connections",
    title="Pooled connections dropped while idle",
    difficulty="intermediate",
    page=(
        "Since this morning's network maintenance, a few percent of all "
        "requests fail with 503 'database unavailable', on every route, at random. "
        "PostgreSQL looks perfectly healthy and its logs show no errors of its own."
    ),
    faults=(
        # Closes any connection through the postgres proxy that carried no data for that long.
        Toxic(
            proxy="postgres",
            type="idle_timeout",
            attributes={"timeout": IDLE_TIMEOUT_MS},
            stream="downstream",
        ),
        Switch(name="no_pool_pre_ping", value=True),
    ),
    fix=(Switch(name="no_pool_pre_ping", value=False),),
    load=LoadProfile(
        users=10,
        spawn_rate=10,
        duration_s=30,
        journeys={"Browser": 6, "Buyer": 2, "HistoryReader": 2},
    ),
    symptoms=(
        PromQLProbe(
            name="catalog_reads_fail",
            expr=CATALOG_ERRORS,
            comparator=">=",
            threshold=0.01,
            description="1 % or more of catalog reads answer 5xx, though they never fail by "
            "themselves and PostgreSQL is up",
        ),
        PromQLProbe(
            name="product_detail_answers_503",
            expr=DETAIL_503,
            comparator=">",
            threshold=0,
            description="product detail, one primary-key SELECT, answers 503 'database "
            "unavailable'",
        ),
    ),
    slo=(
        FEW_ERRORS,
        PromQLProbe(
            name="no_detail_503",
            expr=f"{DETAIL_503} or vector(0)",
            comparator="==",
            threshold=0,
            description="product detail never answers 503",
        ),
        CATALOG_ANSWERS,
    ),
    key_series=(
        Series(title="Catalog error ratio (5xx)", expr=CATALOG_ERRORS),
        Series(title="Product detail 503/s", expr=DETAIL_503, unit="1/s"),
        Series(
            title="Connections through the postgres proxy",
            expr='sum(toxiproxy_proxy_active_connections{proxy="postgres"})',
        ),
        Series(title="Pooled connections checked out", expr="sum(shop_db_pool_checked_out)"),
        Series(
            title="Idle connections pinged before use, by outcome",
            expr="sum by (outcome) (rate(shop_db_pool_pings_total[10s]))",
            unit="1/s",
        ),
    ),
    guide=Guide(
        where_to_look=(
            "The Overview dashboard: 5xx on every database route at a low, steady rate, "
            "while latency stays normal and `/healthz` is fine.",
            "`faultyard logs app --grep 'server closed the connection'`: each failed request "
            "logs `database error` with `server closed the connection unexpectedly` (or "
            "`consuming input failed`), and no SQLSTATE: the connection was gone before the "
            "statement reached PostgreSQL.",
            "`faultyard logs postgres`: nothing about those requests. PostgreSQL saw the client "
            "go away (at most `could not receive data from client` at LOG level), never a query.",
            "`faultyard traces --errors`: the failing span is the first statement of the "
            "request, failing within a millisecond, on a connection taken from the pool.",
            "Connections through the `postgres` proxy (`toxiproxy_proxy_active_connections`) "
            "churn: opened, dropped, opened again.",
        ),
        what_you_will_see=(
            "A few percent of requests on any route that uses the database answer 503 "
            "`database unavailable`, spread over every shop process, with no pattern by route.",
            "PostgreSQL healthy: no slow queries, no locks, no restarts, CPU idle.",
            "After each failure SQLAlchemy notices the disconnect and recycles that process's "
            "pool, so errors come in small bursts, then start again once the new connections "
            "have sat idle long enough to be dropped in turn.",
        ),
        root_cause=(
            "Something between the shop and PostgreSQL (a firewall, a NAT gateway, a cloud "
            "load balancer) forgets a TCP connection that carried no data for a while, and "
            "then drops it. Neither end is told until it next sends. The connection pool keeps "
            "connections open between requests and hands them out as they are, so a request "
            "that gets one that sat idle past the timeout fails on its first statement with "
            "`server closed the connection unexpectedly`, though the database is fine. Here the "
            "proxy's `idle_timeout` toxic closes connections idle for 500 ms, a production "
            "timeout of minutes scaled down to fit the run."
        ),
        fix=(
            "Check a connection as it leaves the pool when it sat there long enough to have "
            "been dropped: SQLAlchemy's `pool_pre_ping=True` pings every checkout; this shop "
            "pings only connections idle longer than `pool_ping_after_idle_s` (250 ms, "
            "HikariCP's `aliveBypassWindowMs` idea), so under load busy connections never pay "
            "the round trip, and a dead one raises `DisconnectionError` so the pool replaces "
            'it before the request sees it (`shop_db_pool_pings_total{outcome="dead"}` '
            "counts them). Keep that window below the network's idle timeout; also keep "
            "connections from outliving it (`pool_recycle`, TCP keepalives shorter than it, "
            "`keepalives_idle` in libpq) and retry idempotent reads once on a disconnect. "
            "Here: `faultyard switch no_pool_pre_ping off`, or `make scenario "
            "stale-connections FIXED=1`."
        ),
        further_reading=(
            Link(
                title="SQLAlchemy: Dealing with Disconnects (pessimistic pre-ping)",
                url="https://docs.sqlalchemy.org/en/20/core/pooling.html#dealing-with-disconnects",
            ),
            Link(
                title="libpq: connection parameters (keepalives_idle, tcp_user_timeout)",
                url="https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS",
            ),
            Link(
                title="HikariCP: configuration (keepaliveTime, maxLifetime, validation)",
                url="https://github.com/brettwooldridge/HikariCP#gear-configuration-knobs-baby",
            ),
            Link(
                title="AWS: NAT gateway idle timeout (350 seconds)",
                url="https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-troubleshooting.html",
            ),
        ),
    ),
    answer=AnswerKey(
        component="network",
        related_components=("database", "shop"),
        root_cause="stale-pooled-connections",
        keywords=("pre-ping", "pre_ping", "idle timeout", "stale", "firewall", "disconnect"),
        choices=(
            f"{STALE_POOL}; no pre-ping replaces them before a request uses them",
            SESSION_LEAK,
            SLOW_DATABASE_LINK,
            "PostgreSQL restarts now and then and drops every session",
        ),
        correct_choice=0,
    ),
)
