"""The proxy server's Prometheus metrics, on a registry of its own (served at GET /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

REGISTRY = CollectorRegistry()

RECEIVED = Counter(
    "toxiproxy_proxy_received_bytes_total",
    "Bytes received by a proxy, by direction.",
    ["proxy", "listener", "upstream", "direction"],
    registry=REGISTRY,
)
SENT = Counter(
    "toxiproxy_proxy_sent_bytes_total",
    "Bytes sent by a proxy, by direction.",
    ["proxy", "listener", "upstream", "direction"],
    registry=REGISTRY,
)
CONNECTIONS = Gauge(
    "toxiproxy_proxy_active_connections",
    "Open client connections per proxy.",
    ["proxy"],
    registry=REGISTRY,
)
#: Not one of Toxiproxy's own: a load balancer's count of requests a backend dropped.
REQUESTS_DROPPED = Counter(
    "faultyard_proxy_requests_dropped_total",
    "Connections the upstream closed or reset while the client's last bytes were unanswered: "
    "requests the server dropped (the client saw its connection end with no answer).",
    ["proxy"],
    registry=REGISTRY,
)
TOXICS_ACTIVE = Gauge(
    "toxiproxy_proxy_toxics_active",
    "Toxics in place per proxy, type and stream.",
    ["proxy", "type", "stream"],
    registry=REGISTRY,
)
