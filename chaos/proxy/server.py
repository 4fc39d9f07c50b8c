"""Run the embedded Toxiproxy-compatible server: API plus proxies, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path

import uvloop
from aiohttp import web

from chaos.proxy.api import make_app
from chaos.proxy.collection import ProxyCollection

log = logging.getLogger("chaos.proxy")


async def serve(
    host: str,
    port: int,
    config: Path | None = None,
    *,
    ready: asyncio.Event | None = None,
    hide_toxics_while: Path | None = None,
) -> None:
    """Serve the API on host:port, creating the proxies of a Toxiproxy -config file first.

    While the file `hide_toxics_while` exists (a drill runs), /metrics leaves out the toxics.
    """
    collection = ProxyCollection()
    if config is not None:
        _, error = await collection.populate(json.loads(config.read_text()))
        if error is not None:
            log.error("config %s: %s", config, error.message)  # as Toxiproxy: logged, not fatal
    app = make_app(collection, hide_toxics_while=hide_toxics_while)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_address=True).start()
    log.info("API listening on %s:%s with %d proxies", host, port, len(collection.proxies))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        for proxy in collection.proxies.values():
            await proxy.stop()
        await runner.cleanup()
        log.info("stopped")


def run(
    host: str, port: int, config: Path | None = None, hide_toxics_while: Path | None = None
) -> None:
    """Blocking entry point for the CLI."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvloop.run(serve(host, port, config, hide_toxics_while=hide_toxics_while))
