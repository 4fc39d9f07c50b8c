"""Read samples out of Prometheus exposition text, as Prometheus would parse it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Return every sample called `name` (e.g. `foo_total`, `foo_bucket`) by its label set."""
    return {
        frozenset(sample.labels.items()): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def value(text: str, name: str, **labels: str) -> float:
    """Return the sample with exactly these labels; 0 when absent (a child not yet created)."""
    return samples(text, name).get(frozenset(labels.items()), 0.0)
