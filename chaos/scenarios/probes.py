"""Evaluate a scenario's probes against the running stack: PromQL, SQL and HTTP.

Probes are plain functions of the stack; their tolerances are the probe's data
(comparator and threshold). An evaluation never raises for what the stack
answers: a failed query becomes a reading that does not hold, with its error,
so a probe that cannot be read is visible in the journal instead of lost.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import psycopg
import requests

from chaos.monitoring.prometheus import PrometheusClient, PrometheusError
from chaos.scenarios.model import HTTPProbe, Probe, PromQLProbe, SQLProbe
from chaos.scenarios.shop_login import LoginFailed, ProbeLogins
from chaos.settings import StackSettings, libpq_url

#: PromQL and SQL probes answer fast or not at all: a probe is polled every second.
QUERY_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation of a probe saw: its value (None: no data), whether it held, why not."""

    value: float | None
    holds: bool
    error: str | None = None
    at: float = 0.0
    detail: str | None = None
    #: The query answered with nothing to compare (no series, NULL, NaN); `error` says which.
    no_data: bool = False


def promql_value(client: PrometheusClient, expr: str) -> float | None:
    """Return the one sample an instant query answers, None when it answers no series.

    Raises PrometheusError when Prometheus refuses the query or is unreachable,
    and ValueError when the query answers several series (a probe must aggregate).
    """
    series = client.query(expr)
    if not series:
        return None
    if len(series) > 1:
        labels = ", ".join(str(s.labels) for s in series[:3])
        raise ValueError(
            f"the query answers {len(series)} series ({labels}...); "
            "a probe needs one: aggregate it with sum(), max(), ..."
        )
    return series[0].values[0]


def _conninfo(settings: StackSettings) -> str:
    # Straight to PostgreSQL, not through the proxy: an SQL probe answers during network faults.
    return libpq_url(settings.database_url)


class Prober:
    """Evaluates probes against one stack; reuses one SQL connection, never an HTTP one.

    Each HTTP probe opens a new connection, as a load balancer's health check does: a kept-alive
    connection would stay with the one shop process that accepted it, and a symptom of another
    process (its pool exhausted, say) would never be seen.
    """

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.prometheus = PrometheusClient(settings.prometheus_url, timeout_s=QUERY_TIMEOUT_S)
        self._http = requests.Session()
        self._logins = ProbeLogins(self._http, self.settings.shop_url)
        self._http.headers["User-Agent"] = "faultyard-probe"
        self._sql: psycopg.Connection[tuple[object, ...]] | None = None

    def evaluate(self, probe: Probe) -> Evaluation:
        """Evaluate one probe now."""
        at = time.time()
        try:
            if isinstance(probe, PromQLProbe):
                value = promql_value(self.prometheus, probe.expr)
            elif isinstance(probe, SQLProbe):
                value = self.sql_value(probe.sql)
            else:
                return self._http_probe(probe, at)
            missing = _no_data(value)
            return Evaluation(value, probe.holds(value), missing, at, no_data=missing is not None)
        except (PrometheusError, psycopg.Error, ValueError) as exc:
            if isinstance(exc, psycopg.Error):
                self.close_sql()  # a broken connection is opened afresh next time
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return Evaluation(None, False, first_line, at)

    def sql_value(self, sql: str) -> float | None:
        """Run a read-only query and return the number in its first row's first column."""
        if self._sql is None or self._sql.closed:
            self._sql = psycopg.connect(
                _conninfo(self.settings),
                autocommit=True,
                connect_timeout=int(QUERY_TIMEOUT_S),
                application_name="faultyard-probe",
                options=f"-c statement_timeout={int(QUERY_TIMEOUT_S * 1000)} "
                "-c default_transaction_read_only=on",
            )
        row = self._sql.execute(sql).fetchone()  # type: ignore[arg-type]
        if row is None or row[0] is None:
            return None
        return float(row[0])  # type: ignore[arg-type]

    def _http_probe(self, probe: HTTPProbe, at: float) -> Evaluation:
        headers = {"Connection": "close"}
        if probe.as_account is not None:
            try:
                headers |= self._logins.bearer(probe.as_account, timeout_s=probe.timeout_s)
            except LoginFailed as exc:
                return Evaluation(None, probe.holds(None, None), None, at, str(exc))
        started = time.monotonic()
        try:
            response = self._http.request(
                probe.method,
                self.settings.shop_url + probe.path,
                timeout=probe.timeout_s,
                headers=headers,
            )
        except requests.RequestException as exc:
            # No answer is what the probe saw, not a failure to evaluate it.
            detail = f"no answer: {type(exc).__name__}"
            return Evaluation(None, probe.holds(None, None), None, at, detail)
        latency = time.monotonic() - started
        if response.status_code == 401 and probe.as_account is not None:
            self._logins.forget(probe.as_account)  # expired or revoked: log in next time
        holds = probe.holds(response.status_code, latency)
        # The value an HTTP probe records is its status code; the detail says how fast.
        detail = f"{response.status_code} in {latency:.3f}s"
        return Evaluation(float(response.status_code), holds, None, at, detail)

    def close_sql(self) -> None:
        """Close the SQL connection (reopened on the next SQL probe)."""
        if self._sql is not None:
            self._sql.close()
            self._sql = None

    def close(self) -> None:
        """Close every connection."""
        self.close_sql()
        self._http.close()


def _no_data(value: float | None) -> str | None:
    if value is None:
        return "no data"
    if math.isnan(value):
        return "NaN (no samples in the window)"
    return None
