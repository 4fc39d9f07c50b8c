"""Statement metrics: run time by SQL operation, and how many statements each request runs."""

from __future__ import annotations

from contextvars import ContextVar

from prometheus_client.metrics import Histogram

from target_app import metrics

#: Operations kept as label values; any other first keyword is counted as "OTHER".
OPERATIONS = frozenset(
    {
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "WITH",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "LOCK",
        "SET",
        "SHOW",
        "EXPLAIN",
        "COPY",
        "TRUNCATE",
        "CREATE",
        "ALTER",
        "DROP",
    }
)
_MAX_CACHED_STATEMENTS = 2000

# One counter per request: set when a request starts, read when it ends. Each
# gevent greenlet has its own context, so concurrent requests never mix.
_request_queries: ContextVar[list[int] | None] = ContextVar("request_queries", default=None)

_histograms: dict[str, Histogram] = {}


def operation_of(statement: str) -> str:
    """Return the statement's first SQL keyword in capitals, or OTHER."""
    text = statement.lstrip()
    while text.startswith("/*"):  # a leading comment, e.g. from sqlcommenter
        end = text.find("*/")
        if end < 0:
            return "OTHER"
        text = text[end + 2 :].lstrip()
    keyword = text.split(None, 1)[0].upper() if text else ""
    return keyword if keyword in OPERATIONS else "OTHER"


def _histogram(statement: str) -> Histogram:
    # Statements come from SQLAlchemy's compiled cache: few distinct strings,
    # so the keyword parse and the label lookup happen once per statement.
    child = _histograms.get(statement)
    if child is None:
        child = metrics.DB_STATEMENT_DURATION.labels(operation_of(statement))
        if len(_histograms) < _MAX_CACHED_STATEMENTS:
            _histograms[statement] = child
    return child


def count_request_statement() -> None:
    """Count one statement towards the current request, if one is being counted."""
    counter = _request_queries.get()
    if counter is not None:
        counter[0] += 1


def observe_statement(statement: str, seconds: float) -> None:
    """Record how long a statement ran (or ran until it failed), by its operation."""
    _histogram(statement).observe(seconds)


def start_request_count() -> None:
    """Start counting this request's statements."""
    _request_queries.set([0])


def finish_request_count() -> int | None:
    """Stop counting and return how many statements the request ran (None if not counting)."""
    counter = _request_queries.get()
    if counter is None:
        return None
    _request_queries.set(None)
    return counter[0]
