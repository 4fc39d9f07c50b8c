"""Prometheus's alerts as coverage and game days read them: which fire now, and waiting for quiet.

Both read the `ALERTS` series every second: `faultyard coverage` (one scenario at
a time) and `faultyard gameday` (a seeded schedule of several faults).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chaos.monitoring.prometheus import PrometheusClient

FIRING = 'ALERTS{alertstate="firing"}'
POLL_S = 1.0
#: The longest wait for the alerts of an earlier fault to resolve.
SETTLE_MAX_S = 120.0


def firing(prometheus: PrometheusClient) -> set[str]:
    """Return the names of the alerts firing now."""
    return {series.labels.get("alertname", "") for series in prometheus.query(FIRING)}


def settle(
    prometheus: PrometheusClient,
    quiet: set[str],
    progress: Callable[[str], None],
    *,
    max_s: float = SETTLE_MAX_S,
) -> set[str]:
    """Wait (up to max_s) until no alert fires beyond `quiet`; return those still firing then."""
    deadline = time.monotonic() + max_s
    while (left := firing(prometheus) - quiet) and time.monotonic() < deadline:
        progress(f"waiting for {', '.join(sorted(left))} to resolve")
        time.sleep(5 * POLL_S)
    return left
