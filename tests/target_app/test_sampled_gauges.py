"""Gauges published by the sampler: at once when registered, then as their source changes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from target_app.instrumentation import sampled_gauges
from tests.conftest import eventually


def test_a_sampled_gauge_follows_its_source() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("test_sampled", "a sampled gauge", registry=registry)
    source = [3.0]
    sampled_gauges.sample(gauge, lambda: source[0])
    assert registry.get_sample_value("test_sampled") == 3.0  # published when registered
    source[0] = 7.0
    eventually(lambda: registry.get_sample_value("test_sampled") == 7.0, "the next sample")


def test_registering_a_gauge_again_replaces_its_source() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("test_resampled", "a gauge sampled twice", registry=registry)
    sampled_gauges.sample(gauge, lambda: 1.0)
    sampled_gauges.sample(gauge, lambda: 2.0)  # a new app in the same process
    sampled_gauges.publish()
    assert registry.get_sample_value("test_resampled") == 2.0
