"""Similar products: the catalog ranked by how close each name is to the viewed one's.

A typo-tolerant fuzzy match in pure Python: edit distances between the viewed
product's name and category, as written and with its words sorted, and every
other product's, the closest first. For a catalog of a thousand products that
is about a third of a second of CPU on this project's 2-core machine, and no
I/O in it: a greenlet running it never yields, so in a gevent worker every
other request of that worker waits for it.

The `similar_products_on_hub` switch (the event-loop-block scenario) runs the
whole ranking in one go. The fix gives the hub a turn after every `CHUNK`
candidates (`gevent.idle()`: the other greenlets that are ready, and the event
loop's I/O, run first), so the worker keeps serving its other requests while
it ranks. gevent's thread pool was tried first and measured: it keeps the hub
turning, but the ranking thread holds the GIL most of the time, and the hub's
thread, which lets go of it whenever it waits, waits up to
`sys.getswitchinterval()` (5 ms) to get it back each time: the hubs were still
blocked for over 100 ms a few times in 30 s. Best of all: compute it ahead of
time, in a job, and serve it from a table or a cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import gevent
from sqlalchemy import select
from sqlalchemy.orm import Session

from target_app.errors import NotFound
from target_app.models import Product
from target_app.switches import SwitchBoard

SWITCH = "similar_products_on_hub"
#: The products compared with the viewed one: the catalog's first ones by id.
CANDIDATES = 1000
#: How many similar products an answer lists.
LIMIT = 5
#: Candidates compared between two turns of the hub, in the fix: about 3 ms of CPU here, so
#: a turn comes well within the monitor's 100 ms even on a machine busy with other work.
CHUNK = 10


def edit_distance(a: str, b: str) -> int:
    """Return the typo-tolerant edit distance of two strings (optimal string alignment).

    Levenshtein's insertions, deletions and substitutions, plus swapping two
    neighbouring characters ("anvli" is one edit from "anvil"), which needs the
    whole table, not just its last row.
    """
    table = [list(range(len(b) + 1))] + [[i] + [0] * len(b) for i in range(1, len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            best = min(
                table[i - 1][j] + 1,
                table[i][j - 1] + 1,
                table[i - 1][j - 1] + (a[i - 1] != b[j - 1]),
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, table[i - 2][j - 2] + 1)
            table[i][j] = best
    return table[-1][-1]


#: How a product is compared: its words as written, its words in order (so "Anvil Dusty"
#: matches "Dusty Anvil") and its name alone.
Views = tuple[str, str, str]


def views(name: str, category: str) -> Views:
    """Return the texts a product is compared by."""
    text = f"{name} {category}".lower()
    return text, " ".join(sorted(text.split())), name.lower()


def distance(a: Views, b: Views) -> int:
    """Return how far apart two products are: the sum of their views' edit distances."""
    return sum(edit_distance(x, y) for x, y in zip(a, b, strict=True))


def rank(
    viewed: Views,
    candidates: Sequence[tuple[int, Views]],
    *,
    limit: int = LIMIT,
    between_chunks: Callable[[], object] | None = None,
) -> list[int]:
    """Return the ids of the `limit` candidates closest to `viewed` (ties by id).

    `between_chunks`, if given, is called after every `CHUNK` candidates.
    """
    scored = []
    for start in range(0, len(candidates), CHUNK):
        if start and between_chunks is not None:
            between_chunks()
        chunk = candidates[start : start + CHUNK]
        scored.extend((distance(viewed, texts), product_id) for product_id, texts in chunk)
    return [product_id for _distance, product_id in sorted(scored)[:limit]]


def similar_products(session: Session, *, product_id: int, switches: SwitchBoard) -> list[Product]:
    """Return the products most similar to one; raise NotFound if it does not exist."""
    viewed = session.get(Product, product_id)
    if viewed is None:
        raise NotFound(f"product {product_id} not found")
    rows = session.execute(
        select(Product.id, Product.name, Product.category)
        .where(Product.id != product_id)
        .order_by(Product.id)
        .limit(CANDIDATES)
    ).all()
    candidates = [(row.id, views(row.name, row.category)) for row in rows]
    viewed_texts = views(viewed.name, viewed.category)
    if switches.is_on(SWITCH):
        ids = rank(viewed_texts, candidates)  # the bug: the hub gets no turn until it is done
    else:
        ids = rank(viewed_texts, candidates, between_chunks=gevent.idle)
    by_id = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id]
