"""Statement metrics: run time by SQL operation (the statements a request runs are counted on
target_app.instrumentation.request_state)."""

from __future__ import annotations

from prometheus_client.metrics import Histogram

from target_app.instrumentation import metrics

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


def observe_statement(statement: str, seconds: float) -> None:
    """Record how long a statement ran (or ran until it failed), by its operation."""
    _histogram(statement).observe(seconds)
