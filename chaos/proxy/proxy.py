"""A proxy: a listener, its upstream, its ordered toxics and its open connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from chaos.proxy import metrics
from chaos.proxy.connection import Connection
from chaos.proxy.toxic import STREAMS, Stream, Toxic

log = logging.getLogger(__name__)

UPSTREAM_CONNECT_TIMEOUT_S = 5.0


class ProxyError(Exception):
    """An API-level failure with its HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def split_address(address: str) -> tuple[str, int]:
    """Split "host:port" (or "[v6]:port") into host and port."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ProxyError(f"invalid address {address!r}: expected host:port", 400)
    return host.strip("[]") or "127.0.0.1", int(port)


def join_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Proxy:
    """Forwards connections from `listen` to `upstream`, through its toxics."""

    def __init__(self, name: str, listen: str, upstream: str, enabled: bool = True) -> None:
        split_address(listen)
        split_address(upstream)
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = enabled
        self.toxics: dict[str, Toxic] = {}
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        # At 0 from the start: increase() over a counter born at its first drop sees none.
        metrics.REQUESTS_DROPPED.labels(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [
                t.to_json() for t in self.toxics_for("upstream") + self.toxics_for("downstream")
            ],
        }

    async def start(self) -> None:
        """Listen; a port of 0 is replaced by the port the system gave."""
        if self._server is not None:
            return
        host, port = split_address(self.listen)
        try:
            self._server = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        except OSError as exc:
            # Toxiproxy passes Go's error through: "listen tcp ADDR: bind: ...".
            reason = (os.strerror(exc.errno) if exc.errno else str(exc)).lower()
            raise ProxyError(f"listen tcp {self.listen}: bind: {reason}", 500) from None
        if port == 0:
            self.listen = join_address(host, self._server.sockets[0].getsockname()[1])

    def forget_metrics(self) -> None:
        """Drop this proxy's series from /metrics (it is being deleted)."""
        for stream in STREAMS:
            for counter in (metrics.RECEIVED, metrics.SENT):
                with contextlib.suppress(KeyError):
                    counter.remove(self.name, self.listen, self.upstream, stream)
        for gauge_or_counter in (metrics.CONNECTIONS, metrics.REQUESTS_DROPPED):
            with contextlib.suppress(KeyError):
                gauge_or_counter.remove(self.name)

    async def stop(self) -> None:
        """Stop listening and drop every open connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for connection in list(self.connections):
            connection.abort()

    async def set_enabled(self, enabled: bool) -> None:
        if enabled and not self.enabled:
            await self.start()
        elif not enabled and self.enabled:
            await self.stop()
        self.enabled = enabled

    def toxics_for(self, stream: Stream) -> list[Toxic]:
        return [t for t in self.toxics.values() if t.stream == stream]

    def add_toxic(self, toxic: Toxic) -> Toxic:
        if toxic.name in self.toxics:
            raise ProxyError("toxic already exists", 409)
        self.toxics[toxic.name] = toxic
        self._activate(toxic)
        return toxic

    def replace_toxic(self, name: str, toxic: Toxic) -> Toxic:
        """Swap in an updated toxic at the same place in the chain.

        Each connection keeps the toxic's state (limit_data's byte count), and a
        self-removal time stays where it was unless the update sets a new one.
        """
        old = self.get_toxic(name)
        self.toxics = {k: (toxic if k == name else v) for k, v in self.toxics.items()}
        timer = self._expiry.pop(name, None)
        old.remove()
        states = {c: c.detach(old, removed=False) for c in self.connections}
        for connection, state in states.items():
            connection.attach(toxic, state)
        metrics.TOXICS_ACTIVE.labels(self.name, old.type, old.stream).dec()
        metrics.TOXICS_ACTIVE.labels(self.name, toxic.type, toxic.stream).inc()
        if timer is not None:
            timer.cancel()
        if timer is not None and toxic.duration_ms == old.duration_ms:
            loop = asyncio.get_running_loop()
            self._expiry[name] = loop.call_at(timer.when(), self._expire, toxic)
        else:
            self._schedule_expiry(toxic)
        return toxic

    def remove_toxic(self, name: str) -> None:
        self._deactivate(self.toxics.pop(self.get_toxic(name).name))

    def remove_all_toxics(self) -> None:
        for name in list(self.toxics):
            self.remove_toxic(name)

    def get_toxic(self, name: str) -> Toxic:
        toxic = self.toxics.get(name)
        if toxic is None:
            raise ProxyError("toxic not found", 404)
        return toxic

    def _activate(self, toxic: Toxic) -> None:
        for connection in self.connections:
            connection.attach(toxic)
        metrics.TOXICS_ACTIVE.labels(self.name, toxic.type, toxic.stream).inc()
        self._schedule_expiry(toxic)

    def _schedule_expiry(self, toxic: Toxic) -> None:
        if toxic.duration_ms:
            loop = asyncio.get_running_loop()
            self._expiry[toxic.name] = loop.call_later(
                toxic.duration_ms / 1000, self._expire, toxic
            )

    def _deactivate(self, toxic: Toxic) -> None:
        toxic.remove()
        for connection in self.connections:
            connection.detach(toxic, removed=True)
        metrics.TOXICS_ACTIVE.labels(self.name, toxic.type, toxic.stream).dec()
        timer = self._expiry.pop(toxic.name, None)
        if timer is not None:
            timer.cancel()

    def _expire(self, toxic: Toxic) -> None:
        if self.toxics.get(toxic.name) is toxic:
            log.info("toxic expired", extra={"proxy": self.name, "toxic": toxic.name})
            self.remove_toxic(toxic.name)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        listener = self._server
        host, port = split_address(self.upstream)
        try:
            upstream = await asyncio.wait_for(
                asyncio.open_connection(host, port), UPSTREAM_CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError) as exc:
            log.warning("upstream unreachable", extra={"proxy": self.name, "error": str(exc)})
            writer.close()
            return
        if self._server is not listener or listener is None:
            # Disabled (or moved) while this connection was still being made.
            upstream[1].transport.abort()
            writer.transport.abort()
            return
        labels = (self.name, self.listen, self.upstream)
        received = {s: metrics.RECEIVED.labels(*labels, s) for s in STREAMS}
        sent = {s: metrics.SENT.labels(*labels, s) for s in STREAMS}
        connection = Connection(
            client=(reader, writer),
            upstream=upstream,
            toxics=self.toxics_for,
            count_received=lambda s, n: received[s].inc(n),
            count_sent=lambda s, n: sent[s].inc(n),
        )
        self.connections.add(connection)
        metrics.CONNECTIONS.labels(self.name).inc()
        try:
            await connection.run()
            if connection.dropped_by_upstream:
                metrics.REQUESTS_DROPPED.labels(self.name).inc()
        finally:
            self.connections.discard(connection)
            metrics.CONNECTIONS.labels(self.name).dec()
            with contextlib.suppress(Exception):
                writer.close()
