"""The images of the compose stack, pinned; each close to what the native stack runs.

Third-party tags were checked against public compose files and registries' docs
(no registry is reachable from the development machine, so none was pulled).
"""

from __future__ import annotations

# Built from compose/Dockerfile (the shop and every process running its code; rq-exporter).
SHOP = "faultyard-shop:local"
RQ_EXPORTER = "faultyard-rq-exporter:local"

# Debian 12's PostgreSQL is 15 and its Redis 7.0: the same majors.
POSTGRES = "postgres:15.17-bookworm"
REDIS = "redis:7.0.15"
# Shopify's official image (from scratch: only /toxiproxy and /toxiproxy-cli inside).
TOXIPROXY = "ghcr.io/shopify/toxiproxy:2.12.0"
PROMETHEUS = "prom/prometheus:v2.55.0"
GRAFANA = "grafana/grafana:11.3.0"
# all-in-one: collector (OTLP on 4317/4318), in-memory storage, query UI on 16686.
JAEGER = "jaegertracing/all-in-one:1.62.0"
# Debian 12 ships postgres-exporter 0.11; 0.15 still reads --extend.query-path.
POSTGRES_EXPORTER = "quay.io/prometheuscommunity/postgres-exporter:v0.15.0"
# The alpine variant: the plain one is FROM scratch, without wget for the health check.
REDIS_EXPORTER = "oliver006/redis_exporter:v1.62.0-alpine"
