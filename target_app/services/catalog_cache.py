"""A per-process, short-lived copy of the catalog that serves list, search and product detail.

Off by default; the runtime setting `catalog_cache_ttl_s` turns it on (the
db-latency scenario's fix: catalog reads then never cross a slow link to
PostgreSQL). What a guide should say about it:

- The catalog is small reference data (a thousand products), so each process
  (gunicorn worker) keeps ALL of it in memory: one query loads every product,
  and list, search and detail answers are computed from that copy, exactly as
  the SQL would (same filters, same order: the database's C collation is
  code-point order; ILIKE folds ASCII letters only). Caching each page or
  product separately would miss most of the time: shoppers ask for thousands
  of different pages and products.
- The copy is at most `catalog_cache_ttl_s` seconds old, then one request
  reloads it while the others keep being served the previous copy (no
  stampede). So the catalog may show stock up to that many seconds old. A
  checkout makes its process read the products it sold from the database until
  the next reload; other processes and list and search pages catch up when
  their copy is reloaded. Checkout never reads the cache: it locks and reads
  fresh rows, so stale catalog stock can never oversell.
- Bounded: a catalog of more than `catalog_cache_max_products` products is not
  copied; every read then goes to the database, as with the cache off.
- A product missing from the copy (added since) is read from the database.
- shop_catalog_cache_hits_total{view} and shop_catalog_cache_misses_total{view}
  (view = list, search or detail) count answers served from the copy or read
  from the database while the cache is on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from target_app.instrumentation import metrics
from target_app.schemas import ProductOut, ProductPage, ProductQuery

log = logging.getLogger(__name__)

View = Literal["list", "search", "detail"]
VIEWS: tuple[View, ...] = ("list", "search", "detail")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(text: str) -> str:
    """Lower-case ASCII letters only, as ILIKE does under the C locale."""
    return text.translate(_ASCII_LOWER)


def _sorted(products: Sequence[ProductOut], sort: str) -> tuple[ProductOut, ...]:
    """Order as ORDER BY <sort>, id does (ties by ascending id)."""
    by_id = sorted(products, key=lambda p: p.id)
    if sort in ("id", "-id"):
        return tuple(reversed(by_id)) if sort == "-id" else tuple(by_id)
    column = sort.removeprefix("-")
    key = {"name": lambda p: p.name, "price": lambda p: p.price_cents}[column]
    # A stable sort keeps ascending ids among equal keys, descending sorts included.
    return tuple(sorted(by_id, key=key, reverse=sort.startswith("-")))


@dataclass
class Snapshot:
    """Every product as of `loaded_at`, in each order the catalog can be listed in."""

    loaded_at: float
    by_id: dict[int, ProductOut]
    orders: dict[str, tuple[ProductOut, ...]]
    #: Products whose stock changed in this process since the load: read them from the database.
    changed: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, products: Sequence[ProductOut], loaded_at: float) -> Snapshot:
        """Index the products for every sort order."""
        sorts = ("id", "-id", "name", "-name", "price", "-price")
        return cls(
            loaded_at=loaded_at,
            by_id={p.id: p for p in products},
            orders={sort: _sorted(products, sort) for sort in sorts},
        )

    def page(self, query: ProductQuery) -> ProductPage:
        """Return what the list route's SQL returns for `query`."""
        matching = [p for p in self.orders[query.sort] if _matches(p, query)]
        start = (query.page - 1) * query.per_page
        return ProductPage(
            items=matching[start : start + query.per_page],
            page=query.page,
            per_page=query.per_page,
            total=len(matching),
        )

    def search(self, *, text: str, page: int, per_page: int) -> ProductPage:
        """Return what the search route's SQL returns: names containing `text`, by name."""
        needle = _fold(text)
        matching = [p for p in self.orders["name"] if needle in _fold(p.name)]
        start = (page - 1) * per_page
        return ProductPage(
            items=matching[start : start + per_page],
            page=page,
            per_page=per_page,
            total=len(matching),
        )

    def product(self, product_id: int) -> ProductOut | None:
        """Return one product, None if the copy does not have it (or it changed here)."""
        return None if product_id in self.changed else self.by_id.get(product_id)


def _matches(p: ProductOut, q: ProductQuery) -> bool:
    return (
        (q.category is None or p.category == q.category)
        and (q.min_price_cents is None or p.price_cents >= q.min_price_cents)
        and (q.max_price_cents is None or p.price_cents <= q.max_price_cents)
        and (q.in_stock is None or (p.stock > 0) == q.in_stock)
    )


Loader = Callable[[int], Sequence[ProductOut]]


class CatalogCache:
    """This process's copy of the catalog, reloaded when older than the caller's TTL."""

    def __init__(self, *, max_products: int) -> None:
        self.max_products = max_products
        self._snapshot: Snapshot | None = None
        self._too_big_at: float | None = None
        self._loading = threading.Lock()
        # Every series exists from the start, at 0; requests count without a label lookup.
        self._counters = {
            (view, hit): (
                metrics.CATALOG_CACHE_HITS if hit else metrics.CATALOG_CACHE_MISSES
            ).labels(view)
            for view in VIEWS
            for hit in (True, False)
        }

    def snapshot(self, *, ttl_s: float, load: Loader) -> tuple[Snapshot | None, bool]:
        """Return a copy younger than `ttl_s` (or the previous one while another request
        reloads it), and whether this call loaded it; no copy when the cache is off or the
        catalog is too big. `load(limit)` returns up to `limit` products in id order.
        """
        if ttl_s <= 0:
            return None, False
        now = time.monotonic()
        current = self._snapshot
        if current is not None and now - current.loaded_at < ttl_s:
            return current, False
        if self._too_big_at is not None and now - self._too_big_at < ttl_s:
            return None, False
        # One request reloads; the others keep the previous copy meanwhile (or wait for the first).
        if not self._loading.acquire(blocking=current is None):
            return current, False
        try:
            current = self._snapshot
            if current is not None and time.monotonic() - current.loaded_at < ttl_s:
                return current, False  # loaded by the request this one waited for
            products = load(self.max_products + 1)
            if len(products) > self.max_products:
                log.warning(
                    "catalog too big to cache: reading it from the database",
                    extra={"max_products": self.max_products},
                )
                self._snapshot, self._too_big_at = None, now
                return None, True
            self._snapshot, self._too_big_at = Snapshot.of(products, now), None
            return self._snapshot, True
        finally:
            self._loading.release()

    def forget_products(self, product_ids: Iterable[int]) -> None:
        """Read these products from the database until the next reload (their stock changed)."""
        if self._snapshot is not None:
            self._snapshot.changed.update(product_ids)

    def count(self, view: View, *, hit: bool) -> None:
        """Count an answer served from the copy (hit) or read from the database (miss)."""
        self._counters[view, hit].inc()
