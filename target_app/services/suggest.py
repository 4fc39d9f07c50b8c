"""Search suggestions: what the search box offers as a shopper types, one request per keystroke.

The products whose name or category contains any word typed so far, ranked
in Python (most words matched first, then names with words starting with
them, then by name), and the first `LIMIT` of them shown, with how many
matched in all.

The `suggest_memo_per_request` switch (the memory-leak scenario) is a
classic Python leak (flake8-bugbear's B019): the ranking is a method of a
per-request `Suggester`, memoized with `functools.cache` so that the shown
products and the count do not rank twice. `functools.cache` keys on the
arguments, `self` included, and holds them for ever: every request's
Suggester, with every product that matched it, stays in the process. The fix
ranks once into a local, and caches the answers that are shown (not the whole
ranking) in a bounded `cachetools.TTLCache` keyed by the normalised text,
which repeated keystrokes of many shoppers do share. It keeps them as the
JSON they are sent as, about a kilobyte each, not as schema objects (ten
times that): a full cache is then 128 KiB a worker, and its filling up after
a deploy does not pass for a leak on the memory graph.
"""

from __future__ import annotations

import functools
import threading

from cachetools import TTLCache
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from target_app.models import Product
from target_app.schemas import ProductOut, Suggestions

SWITCH = "suggest_memo_per_request"
#: How many suggestions an answer shows.
LIMIT = 8
#: Words of the text that count (the rest is ignored).
MAX_WORDS = 5
#: The fix's cache: answers for this many texts (the hot ones), each kept this long.
CACHE_ENTRIES = 128
CACHE_TTL_S = 60.0

#: Normalised text -> the answer's JSON (its `q` is the request's own text).
_answers: TTLCache[str, str] = TTLCache(maxsize=CACHE_ENTRIES, ttl=CACHE_TTL_S)
_answers_lock = threading.Lock()  # cachetools' caches are not safe to share unguarded


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _starts_a_word(name: str, text: str) -> bool:
    return any(word.startswith(text) for word in name.lower().split())


class Suggester:
    """The suggestions for one text, made for one request."""

    def __init__(self, session: Session, text: str) -> None:
        self.session = session
        self.text = text

    def words(self) -> list[str]:
        """Return the text's words, lower-cased (at most `MAX_WORDS`)."""
        return self.text.lower().split()[:MAX_WORDS]

    def matches(self) -> list[ProductOut]:
        """Return every product whose name or category contains any of the text's words."""
        patterns = [f"%{_escaped(word)}%" for word in self.words()]
        rows = self.session.scalars(
            select(Product).where(
                or_(
                    *(Product.name.ilike(pattern, escape="\\") for pattern in patterns),
                    *(Product.category.ilike(pattern, escape="\\") for pattern in patterns),
                )
            )
        )
        return [ProductOut.model_validate(p, from_attributes=True) for p in rows]

    def ranking(self) -> list[ProductOut]:
        """Return the matches, best first: most words matched, most names' words starting
        with them, then by name.
        """
        words = self.words()

        def relevance(p: ProductOut) -> tuple[int, int, str, int]:
            text = f"{p.name} {p.category}".lower()
            matched = sum(word in text for word in words)
            starting = sum(_starts_a_word(p.name, word) for word in words)
            return (-matched, -starting, p.name, p.id)

        return sorted(self.matches(), key=relevance)

    # The bug: cached for ever, keyed by `self`, that is by the request (flake8-bugbear B019).
    @functools.cache  # noqa: B019
    def memoized_ranking(self) -> list[ProductOut]:
        return self.ranking()

    def answer(self, *, memoized: bool) -> Suggestions:
        """Return the first suggestions and how many matched."""
        if memoized:  # ranks once, though asked twice
            items, total = self.memoized_ranking()[:LIMIT], len(self.memoized_ranking())
        else:
            ranking = self.ranking()
            items, total = ranking[:LIMIT], len(ranking)
        return Suggestions(q=self.text, items=items, total=total)


def suggest(session: Session, text: str, *, leaky: bool) -> Suggestions:
    """Return the suggestions for a text; `leaky` is the switch's bug."""
    if leaky:
        return Suggester(session, text).answer(memoized=True)
    if memo_entries():
        # The fix deployed: what the bug's memo held goes, as with the workers it ran in.
        Suggester.memoized_ranking.cache_clear()
    key = " ".join(text.lower().split())
    with _answers_lock:
        cached = _answers.get(key)
    if cached is not None:
        return Suggestions.model_validate_json(cached).model_copy(update={"q": text})
    answer = Suggester(session, text).answer(memoized=False)
    with _answers_lock:
        _answers[key] = answer.model_dump_json()
    return answer


def memo_entries() -> int:
    """Return how many requests' rankings the bug's memo holds in this process."""
    return Suggester.memoized_ranking.cache_info().currsize


def forget() -> None:
    """Empty both caches of this process (the memo, the bounded answers)."""
    Suggester.memoized_ranking.cache_clear()
    with _answers_lock:
        _answers.clear()
