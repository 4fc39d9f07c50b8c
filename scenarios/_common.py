"""What several scenarios share: route templates, PromQL builders and a few standard probes."""

from __future__ import annotations

from chaos.scenarios.model import HTTPProbe, Link, PromQLProbe, Series, SQLProbe
from target_app.public import ShopSettings

#: Route labels of shop_http_* metrics are Flask's URL rules.
CHECKOUT_ROUTE = "/carts/<int:cart_id>/checkout"
CATALOG_ROUTES = "/products|/products/search|/products/<int:product_id>"
#: The shop's database (StackSettings.pg_database), as pg_stat_database's datname label.
SHOP_DB = "shop"
#: Rate and quantile window: 1 s scrapes, so 10 s reacts within a few scrapes and still smooths.
WINDOW = "10s"

_DEFAULTS = ShopSettings.model_construct()
#: Connections one shop process may hold: pool_size plus max_overflow (the defaults).
POOL_LIMIT = _DEFAULTS.pool_size + _DEFAULTS.pool_max_overflow
POOL_TIMEOUT_S = _DEFAULTS.pool_timeout_s


def rate(selector: str, window: str = WINDOW) -> str:
    """Return `sum(rate(SELECTOR[WINDOW]))`."""
    return f"sum(rate({selector}[{window}]))"


def quantile(q: float, histogram: str, labels: str = "", window: str = WINDOW) -> str:
    """Return the q-quantile of a histogram over the window, all matching series together."""
    return f"histogram_quantile({q}, sum by (le) (rate({histogram}_bucket{{{labels}}}[{window}])))"


def error_ratio(route_regex: str, window: str = WINDOW) -> str:
    """Return the share of 5xx answers on the matching routes (0 when there are none)."""
    errors = rate(f'shop_http_requests_total{{route=~"{route_regex}",status=~"5.."}}', window)
    total = rate(f'shop_http_requests_total{{route=~"{route_regex}"}}', window)
    # No requests at all is no errors (0/0 would be NaN, which never holds).
    return f"({errors} or vector(0)) / clamp_min({total}, 1e-9)"


CHECKOUT_P99 = quantile(
    0.99, "shop_http_request_duration_seconds", f'method="POST",route="{CHECKOUT_ROUTE}"'
)
CHECKOUTS_BY_OUTCOME = Series(
    title="Checkouts/s by outcome",
    expr="sum by (outcome) (rate(shop_checkouts_total[10s]))",
    unit="1/s",
)


def few_checkout_errors(description: str = "fewer than 1 % of checkouts answer 5xx") -> PromQLProbe:
    """Return the SLO probe: under 1 % of checkouts answer 5xx."""
    return PromQLProbe(
        name="checkout_errors_below_1pct",
        expr=error_ratio(CHECKOUT_ROUTE),
        comparator="<",
        threshold=0.01,
        description=description,
    )


#: Root causes, one sentence each: a scenario's answer, and a wrong choice in the others' drills.
SESSION_LEAK = "Failed checkouts never return their database connection to the pool"
LOCK_ORDER = "Checkouts lock the same product rows in different orders"
SLOW_DATABASE_LINK = "The network link between the shop and PostgreSQL got slower"
RETRY_STORM = "Payment jobs fail and are retried immediately, flooding the queue"
SLOW_CALL_HOLDING_LOCKS = "A transaction holds row locks while it waits on a slow remote call"
DUAL_WRITE = "Checkout writes to Redis after the commit instead of through the outbox"
STALE_POOL = "The pool hands out connections the network closed while they sat idle"
LOST_UPDATE = "Checkouts read the stock without a lock and write back what they computed"
IGNORED_IDEMPOTENCY_KEY = "Buy now ignores the client's Idempotency-Key"
N_PLUS_ONE = (
    "Order history runs one query per listed order, and the orders table lost the index "
    "that found a customer's orders"
)

NO_OVERSOLD_STOCK = SQLProbe(
    name="no_oversold_stock",
    sql="SELECT count(*) FROM products WHERE stock < 0",
    comparator="==",
    threshold=0,
    description="no product has been sold below zero stock",
)

FEW_ERRORS = PromQLProbe(
    name="errors_below_1pct",
    expr=error_ratio(".+"),
    comparator="<",
    threshold=0.01,
    description="fewer than 1 % of all requests answer 5xx",
)


def recent_increase(gauge: str, window: str = WINDOW) -> str:
    """Return how much a running-total gauge grew within the window (0 when it did not).

    The shop_invariant_* gauges count over the shop's whole history, so an earlier run's
    damage stays in them: a run judges what it added lately.
    """
    return f"max({gauge}) - max(min_over_time({gauge}[{window}]))"


CATALOG_ANSWERS = HTTPProbe(
    name="catalog_answers",
    path="/products?per_page=5",
    expect_status=200,
    max_latency_s=1.0,
    description="a catalog page answers 200 within a second",
)

POSTGRES_LOG = Link(
    title="PostgreSQL: error reporting and logging (log_lock_waits, log_min_duration_statement)",
    url="https://www.postgresql.org/docs/current/runtime-config-logging.html",
)
