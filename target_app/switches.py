"""Bug switches: each deliberate bug lives in the real code path behind a named switch.

The switch states live in one small JSON file in the state folder
(target_app.state_file). Every process (gunicorn workers, RQ workers, the
relay) re-reads it at most `refresh_s` after a write, so a change reaches all
of them within a second and keeps working while Redis or PostgreSQL are down
or slow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from target_app.state_file import SharedStateFile


@dataclass(frozen=True)
class Switch:
    """A deliberate bug; `on` means the buggy code path runs."""

    name: str
    bug: str
    fix: str


REGISTRY: dict[str, Switch] = {
    s.name: s
    for s in (
        Switch(
            name="lock_in_cart_order",
            bug="checkout locks product rows in the order they were added to the cart, "
            "so two carts holding the same products in opposite order deadlock",
            fix="lock product rows in ascending id order, one global order for every checkout",
        ),
        Switch(
            name="leak_session_on_error",
            bug="checkout opens its own session and, when it fails (out of stock), returns "
            "without closing it; the error kept for /admin/errors holds the session, "
            "so its pooled connection is never returned",
            fix="close the checkout session in a finally block on every path",
        ),
        Switch(
            name="retry_without_backoff",
            bug="a failed payment job is put straight back at the front of the queue, up to "
            "20 times, with no wait: when the provider fails, every failure is retried at "
            "once (a retry storm) and new payments wait behind the retries",
            fix="retry a few times with exponential backoff and jitter (the job waits in the "
            "scheduled registry); a job out of retries lands in the failed registry",
        ),
        Switch(
            name="unlocked_stock_update",
            bug="checkout reads each product's stock without a lock, checks it in Python and "
            "writes back `stock = what it read - quantity`: two checkouts of one product at "
            "once both read the same stock, and the second write undoes the first (a lost "
            "update), so units are sold twice",
            fix="lock the product rows (SELECT ... FOR UPDATE) before reading the stock, so "
            "the read, the check and the write see one value that no one else can change",
        ),
        Switch(
            name="external_call_in_transaction",
            bug="repricing locks the product row, then asks the pricing service for the new "
            "price inside the open transaction: for as long as the call takes, the connection "
            "sits idle in transaction holding the lock, and checkouts of that product queue",
            fix="ask the pricing service first, with no transaction open, then save the price "
            "in a short transaction (lock_timeout 1 s, and only if the price did not change)",
        ),
        Switch(
            name="retry_payments_forever",
            bug="a failed payment job is retried until it succeeds, at once and at the front "
            "of the queue, whatever the failure: a capture the provider declines for good "
            "(a poison message) cycles for ever and keeps the workers from every other payment",
            fix="a decline is final (the order moves to payment_failed, the job to the failed "
            "registry, the dead letters); other failures get a few retries with backoff",
        ),
        Switch(
            name="similar_products_on_hub",
            bug="similar products are ranked (a pure-Python fuzzy match of the viewed name "
            "against the whole catalog, a third of a second of CPU) in one go in the request's "
            "greenlet: it never yields, so every other request of that gunicorn worker waits",
            fix="give the hub a turn (gevent.idle) after every 10 candidates, so the worker's "
            "other requests keep being served while it ranks",
        ),
        Switch(
            name="password_checks_on_hub",
            bug="logins check the password (Argon2id, a deliberately slow hash) in the "
            "request's greenlet, and are not rate limited: a burst of logins (a campaign "
            "email, a credential-stuffing run) holds the event loop for each hash's whole "
            "time, so every request of that worker waits behind it",
            fix="hash in gevent's thread pool (Argon2 releases the GIL: the hub goes on "
            "serving), and limit login attempts per client address and failed logins per "
            "account (429 with Retry-After)",
        ),
        Switch(
            name="rate_limiter_fails_closed",
            bug="the rate limits are counted in Redis only, and an error of Redis fails the "
            "request: while Redis is unreachable every limited route (login, checkout, buy "
            "now) answers 500, so a cache outage becomes an outage of buying",
            fix="fail open: while Redis is unreachable each process counts the limits in "
            "memory, tries Redis again every 2 s, and counts what it kept in memory "
            '(shop_rate_limit_checks_total{storage="memory"}, alert RateLimiterDegraded)',
        ),
        Switch(
            name="highlights_recompute_on_every_miss",
            bug="the front page's best sellers are cached in Redis with a plain expiry: when "
            "the entry expires, every request that misses recomputes the heavy order-history "
            "query at once, until one of them has stored it (a cache stampede at every expiry)",
            fix="single flight with stale-while-revalidate: the entry outlives its freshness, "
            "one request (holding a Redis lock) recomputes it while the others are served the "
            "stale copy",
        ),
        Switch(
            name="suggest_memo_per_request",
            bug="search suggestions memoize their ranking with functools.cache on a method of "
            "a per-request object: every request's ranking (every product that matched) is "
            "kept for ever, so the shop workers' memory grows with each keystroke",
            fix="rank once per request, and cache only the answers shown in a bounded "
            "cachetools.TTLCache keyed by the normalised text",
        ),
        Switch(
            name="no_pool_pre_ping",
            bug="the connection pool hands out connections without checking them: one that "
            "the network closed while it sat in the pool (a firewall's idle timeout, a "
            "database restart) fails the request that gets it with `server closed the "
            "connection unexpectedly`",
            fix="ping each connection as it leaves the pool (SQLAlchemy's pool_pre_ping) and "
            "replace a dead one with a new connection before the request uses it",
        ),
        Switch(
            name="publish_after_commit",
            bug="checkout marks its order.placed event published itself and, after the commit, "
            "enqueues the payment and streams the event straight to Redis (a dual write): "
            "while Redis is unreachable the order is kept, and its payment and event are lost",
            fix="the transactional outbox: the event is written unpublished with the order, and "
            "the relay publishes it (and enqueues the payment) once Redis accepts it",
        ),
        Switch(
            name="lazy_order_history",
            bug="order history loads each listed order's items lazily, one SELECT per order "
            "as the page is built (an N+1: a page of 10 orders runs 13 statements)",
            fix="load the page's items with the orders, one SELECT for all of them "
            "(selectinload): 4 statements whatever the page size",
        ),
        Switch(
            name="exit_at_once_on_sigterm",
            bug="a deploy's SIGTERM runs the shop's own handler: flush the telemetry and end "
            "the process at once. A shop worker cuts the requests it holds (the clients see "
            "their connection closed with no answer); an RQ worker abandons its job in the "
            "started registry, the order pending payment until RQ calls it abandoned",
            fix="leave SIGTERM to the servers' graceful shutdown: gunicorn stops accepting and "
            "finishes its requests (graceful_timeout), RQ finishes the current job (a warm "
            "shutdown); a worker that did die mid-job (SIGKILL, out of memory) has its job "
            "put back on the queue by its successor as it starts",
        ),
        Switch(
            name="buy_now_ignores_idempotency_key",
            bug="buy now (POST /orders) does not look at the Idempotency-Key: a client that "
            "retries a purchase whose answer it never got (a timeout) places a second order "
            "and pays twice",
            fix="a purchase with a key is placed once: a retry with the same key gets the "
            "first order back (200, Idempotent-Replayed: true), and a concurrent retry waits "
            "for it on the key's unique constraint",
        ),
        Switch(
            name="stream_without_resume",
            bug="the live stock streams (SSE and WebSocket) tell clients to reconnect at once "
            "(`retry: 0`) and give them nothing to resume from: events carry no id and a "
            "reconnection starts from now, so a client cut off comes straight back, again and "
            "again while the cut lasts, and the changes published meanwhile are lost to it",
            fix="events carry their id in the events stream and a reconnection resumes after "
            "the client's last one (Last-Event-ID, `?after=`); clients are told to wait about "
            "a second, with jitter, and back off exponentially while their attempts fail",
        ),
    )
}


class UnknownSwitchError(KeyError):
    """A switch name that is not in the registry."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown switch {self.name!r}; known: {', '.join(sorted(REGISTRY))}"


class SwitchBoard:
    """Reads and writes the switch file; reads are cached and refreshed on change."""

    def __init__(self, path: Path | str, *, refresh_s: float = 0.2) -> None:
        self._file = SharedStateFile(path, refresh_s=refresh_s)
        self.path = self._file.path

    def is_on(self, name: str) -> bool:
        """Return whether the bug behind `name` is switched on."""
        if name not in REGISTRY:
            raise UnknownSwitchError(name)
        return bool(self._file.read().get(name, False))

    def states(self, *, fresh: bool = False) -> dict[str, bool]:
        """Return every switch with its state (as the file holds it now if `fresh`)."""
        stored = self._file.read(fresh=fresh)
        return {name: bool(stored.get(name, False)) for name in REGISTRY}

    def set(self, name: str, on: bool) -> dict[str, bool]:
        """Switch `name` on or off for every process; return the new states."""
        if name not in REGISTRY:
            raise UnknownSwitchError(name)
        self._file.update(lambda stored: {**_known(stored), name: on})
        return self.states()

    def reset(self) -> dict[str, bool]:
        """Switch every bug off."""
        self._file.update(lambda _stored: {})
        return self.states()


def _known(stored: dict[str, object]) -> dict[str, bool]:
    return {k: bool(v) for k, v in stored.items() if k in REGISTRY}
