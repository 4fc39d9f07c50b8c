"""The exporter process: collectors on one registry, served over HTTP on loopback."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import start_http_server
from prometheus_client.registry import CollectorRegistry
from redis import Redis

from chaos.exporter.faults import Fault, FaultCollector, toxiproxy_faults
from chaos.exporter.invariants import (
    STATEMENT_TIMEOUT_MS,
    DatabaseReading,
    InvariantCollector,
    ShopInvariants,
)
from chaos.exporter.polling import Poller, SourceCollector
from chaos.exporter.processes import ProcessCollector
from chaos.exporter.stream import StreamWatch
from chaos.exporter.table_scans import TableScanCollector, TableScans, TableStats
from chaos.settings import StackSettings
from chaos.toxiproxy import ToxiproxyClient
from target_app.public import SwitchBoard, load_settings, switches_file

# Toxiproxy is read twice a scrape interval, with a timeout short enough that a
# slow API costs one missed read, never a slow scrape (scrapes only read caches).
TOXIPROXY_POLL_S = 0.5
TOXIPROXY_TIMEOUT_S = 0.5
INVARIANTS_POLL_S = 1.0
REDIS_TIMEOUT_S = 1.0
# A value older than this is dropped from the scrape; its source_up is 0 by then.
MAX_AGE_S = 5.0

log = logging.getLogger("chaos.exporter")


@dataclass(frozen=True)
class ExporterConfig:
    """Where the exporter listens and what it reads."""

    host: str
    port: int
    state_dir: Path
    database_url: str
    redis_url: str
    toxiproxy_url: str
    events_stream: str


@dataclass
class Exporter:
    """The registry to serve and the pollers that feed it."""

    registry: CollectorRegistry
    pollers: list[Poller[object]]

    def start(self) -> None:
        """Start every poller."""
        for poller in self.pollers:
            poller.start()

    def stop(self) -> None:
        """Stop every poller."""
        for poller in self.pollers:
            poller.stop()


def build(config: ExporterConfig) -> Exporter:
    """Wire the collectors and their pollers (nothing starts yet)."""
    toxiproxy = ToxiproxyClient(config.toxiproxy_url, timeout_s=TOXIPROXY_TIMEOUT_S)
    toxics: Poller[list[Fault]] = Poller(
        "toxiproxy",
        lambda: toxiproxy_faults(toxiproxy),
        interval_s=TOXIPROXY_POLL_S,
        max_age_s=MAX_AGE_S,
        hung_after_s=2 * TOXIPROXY_TIMEOUT_S,
    )
    redis = Redis.from_url(
        config.redis_url,
        decode_responses=True,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        socket_timeout=REDIS_TIMEOUT_S,
        client_name="faultyard-exporter",
    )
    invariants = ShopInvariants(config.database_url, StreamWatch(redis, config.events_stream))
    database: Poller[DatabaseReading] = Poller(
        "postgres",
        invariants.read_database,
        interval_s=INVARIANTS_POLL_S,
        max_age_s=MAX_AGE_S,
        hung_after_s=STATEMENT_TIMEOUT_MS / 1000 + 0.5,
    )
    stream: Poller[int | None] = Poller(
        "redis",
        invariants.read_stream,
        interval_s=INVARIANTS_POLL_S,
        max_age_s=MAX_AGE_S,
        hung_after_s=2 * REDIS_TIMEOUT_S,
    )
    tables: Poller[list[TableScans]] = Poller(
        "postgres-tables",
        TableStats(config.database_url).read,
        interval_s=INVARIANTS_POLL_S,
        max_age_s=MAX_AGE_S,
        hung_after_s=STATEMENT_TIMEOUT_MS / 1000 + 0.5,
    )
    board = SwitchBoard(switches_file(config.state_dir), refresh_s=0)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProcessCollector(config.state_dir / "run"))
    hidden_when = load_settings({"state_dir": config.state_dir}).listings_hidden_file
    registry.register(FaultCollector(toxics, board, config.state_dir, hidden_when))
    registry.register(InvariantCollector(database, stream))
    registry.register(TableScanCollector(tables))
    pollers: list[Poller[object]] = [toxics, database, stream, tables]  # type: ignore[list-item]
    registry.register(SourceCollector({p.name: p.snapshot for p in pollers}))
    return Exporter(registry, pollers)


def parse_args(argv: list[str] | None = None) -> ExporterConfig:
    """Read the command line; defaults come from the FAULTYARD_* settings."""
    stack = StackSettings()
    parser = argparse.ArgumentParser(
        prog="python -m chaos.exporter",
        description="Export process CPU/RSS, active faults and the shop's invariants.",
    )
    parser.add_argument("--host", default=stack.host)
    parser.add_argument("--port", type=int, default=stack.exporter_port)
    parser.add_argument("--state-dir", type=Path, default=stack.state_path)
    parser.add_argument("--database-url", default=stack.database_url)
    parser.add_argument("--redis-url", default=stack.redis_url)
    parser.add_argument("--toxiproxy-url", default=stack.toxiproxy_api_url)
    parser.add_argument("--events-stream", default=load_settings().events_stream)
    args = parser.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        parser.error("the exporter listens on loopback only (127.0.0.1 or ::1)")
    return ExporterConfig(
        host=args.host,
        port=args.port,
        state_dir=args.state_dir.resolve(),
        database_url=args.database_url,
        redis_url=args.redis_url,
        toxiproxy_url=args.toxiproxy_url,
        events_stream=args.events_stream,
    )


def main(argv: list[str] | None = None) -> None:
    """Serve /metrics until SIGTERM or SIGINT."""
    serve(parse_args(argv))


def serve(config: ExporterConfig) -> None:
    """Serve the exporter's /metrics at config.host:config.port until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    exporter = build(config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    exporter.start()
    server, _thread = start_http_server(config.port, addr=config.host, registry=exporter.registry)
    log.info("serving on http://%s:%d/metrics", config.host, config.port)
    stop.wait()
    server.shutdown()
    exporter.stop()
    log.info("stopped")
