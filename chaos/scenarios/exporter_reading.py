"""The exporter's invariant gauges as read after a given moment, from its /metrics.

The exporter (chaos/exporter) reads PostgreSQL and the event stream in the
background, each once a second, and serves its latest values; next to them,
`faultyard_source_read_timestamp_seconds{source}` says when the read behind
them began. A reader that must know the exporter has seen a moment (the end
of a scenario run) scrapes until a read began after it. Judging an event lost
takes one more step: a stream read that began after the database read that
found the event published had ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from prometheus_client.parser import text_string_to_metric_families

INVARIANT_PREFIX = "shop_invariant_"
#: How long the exporter may take to serve a reading that began after a given moment.
EXPORTER_WAIT_S = 15.0
POLL_S = 0.2
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ExporterScrape:
    """One scrape of the exporter: the invariant gauges it served (by name), and when the read
    of each source behind them began (Unix time)."""

    gauges: dict[str, float]
    read_at: dict[str, float]

    def read_after(self, source: str, moment: float) -> bool:
        """Return whether the source's values come from a read that began after the moment."""
        return self.read_at.get(source, float("-inf")) > moment


def scrape_exporter(url: str) -> ExporterScrape:
    """Scrape the exporter's /metrics (requests.RequestException if it does not answer)."""
    response = requests.get(url, timeout=TIMEOUT_S)
    response.raise_for_status()
    gauges: dict[str, float] = {}
    read_at: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name.startswith(INVARIANT_PREFIX):
                gauges[sample.name] = sample.value
            elif sample.name == "faultyard_source_read_timestamp_seconds":
                read_at[sample.labels["source"]] = sample.value
    return ExporterScrape(gauges, read_at)


def _scrape_until(
    url: str, ready: Callable[[ExporterScrape], bool], deadline: float
) -> ExporterScrape:
    """Scrape until `ready(scrape)` holds; TimeoutError (naming the last error) after the deadline."""
    error = "no reading"
    while True:
        try:
            scrape = scrape_exporter(url)
            if ready(scrape):
                return scrape
            error = f"its reads began at {scrape.read_at}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the exporter did not serve a reading in time ({error})")
        time.sleep(POLL_S)


def reading_after(url: str, moment: float, *, judged: bool) -> ExporterScrape:
    """Return the exporter's gauges as read after the moment (TimeoutError if it never is).

    judged: also wait until the events it found published after the moment were looked
    for in the stream (a stream read began after a later database read began, so after
    the first one ended). The gauges come from the scrape after the one that showed it:
    a scrape may serve a value older than the read timestamps it serves next to it.
    """
    deadline = time.monotonic() + EXPORTER_WAIT_S
    first = _scrape_until(url, lambda s: s.read_after("postgres", moment), deadline)
    if judged:
        began = first.read_at["postgres"]
        later = _scrape_until(url, lambda s: s.read_after("postgres", began), deadline)
        moment = later.read_at["postgres"]
    _scrape_until(url, lambda s: s.read_after("redis", moment), deadline)
    return _scrape_until(url, lambda _s: True, deadline)
