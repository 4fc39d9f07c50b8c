"""One proxied TCP connection: two links (upstream, downstream) running chunks through the toxics."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

from chaos.proxy.link_context import LinkToxicContext
from chaos.proxy.toxic import Stream, Toxic
from chaos.proxy.toxics import Chunk

READ_SIZE = 32 * 1024
# Bytes read ahead of the toxics: a latency toxic delays each chunk from its
# arrival, so a stream keeps flowing while earlier chunks wait (Toxiproxy
# buffers 1024 chunks; this is the same order of magnitude).
BACKLOG_BYTES = 8 * 1024 * 1024
CLOSE_TIMEOUT_S = 2.0


class Link:
    """One direction of a connection: read, run through this stream's toxics, write.

    With no toxic on its stream a chunk is written as soon as it is read. Otherwise
    chunks queue (stamped with their arrival) for a pump task that runs them
    through the toxics in order; the reader keeps reading meanwhile, so a
    latency toxic delays data without throttling it.
    """

    def __init__(
        self,
        connection: Connection,
        stream: Stream,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.connection = connection
        self.stream = stream
        self.reader = reader
        self.writer = writer
        self.contexts: dict[Toxic, LinkToxicContext] = {}
        self._backlog: deque[Chunk] = deque()
        self._backlog_bytes = 0
        self.pump: asyncio.Task[None] | None = None
        self._room = asyncio.Event()
        self._room.set()

    def context(self, toxic: Toxic) -> LinkToxicContext:
        ctx = self.contexts.get(toxic)
        if ctx is None:
            ctx = self.contexts[toxic] = LinkToxicContext(self, toxic)
        return ctx

    def attach(self, toxic: Toxic, state: dict[str, Any] | None = None) -> None:
        """Start a toxic on this link (its timers too); `state` carries over an updated toxic's."""
        ctx = self.contexts[toxic] = LinkToxicContext(self, toxic, state)
        if ctx.applies():
            ctx.attach_task = asyncio.create_task(toxic.kind.on_attach(ctx))

    def detach(self, toxic: Toxic, *, removed: bool) -> dict[str, Any]:
        """Stop a toxic on this link; return its state (for the toxic that replaces it)."""
        ctx = self.contexts.pop(toxic, None)
        if ctx is None:
            return {}
        if ctx.attach_task:
            ctx.attach_task.cancel()
        if removed and ctx.rolled_in:
            toxic.kind.on_removed(ctx)
        return ctx.state

    async def run(self) -> None:
        """Carry this direction until its source finishes or the connection closes."""
        connection = self.connection
        loop = asyncio.get_running_loop()
        try:
            while data := await self.reader.read(READ_SIZE):
                connection.count_received(self.stream, len(data))
                chunk = Chunk(data, loop.time())
                if self.pump is None and not connection.toxics(self.stream):
                    connection.note_turn(self.stream)
                    if not await self._write(chunk) or connection.closing:
                        return
                    continue
                self._backlog.append(chunk)
                self._backlog_bytes += len(data)
                if self.pump is None:
                    self.pump = asyncio.create_task(self._drain_backlog())
                if self._backlog_bytes >= BACKLOG_BYTES:
                    self._room.clear()
                    await self._room.wait()
        except (ConnectionError, OSError):
            pass
        connection.source_ended(self.stream)
        if self.pump is not None:
            await self.pump
        if connection.closing:
            return
        for toxic in connection.toxics(self.stream):
            ctx = self.context(toxic)
            if ctx.applies():
                await toxic.kind.on_end_of_stream(ctx)
        with contextlib.suppress(OSError, RuntimeError):
            if not self.writer.is_closing() and self.writer.can_write_eof():
                self.writer.write_eof()

    async def _drain_backlog(self) -> None:
        try:
            while self._backlog and not self.connection.closing:
                chunk = self._backlog.popleft()
                self._backlog_bytes -= len(chunk.data)
                self._room.set()
                self.connection.note_turn(self.stream)
                if not await self._through(chunk, self.connection.toxics(self.stream), 0):
                    return
        finally:
            self.pump = None
            self._room.set()

    async def _through(self, chunk: Chunk, toxics: list[Toxic], index: int) -> bool:
        """Run a chunk through toxics[index:], writing each piece that comes out; False to stop."""
        while index < len(toxics) and toxics[index].removed:
            index += 1  # removed since this chunk started: it no longer applies
        if index == len(toxics):
            return await self._write(chunk)
        toxic = toxics[index]
        ctx = self.context(toxic)
        if not ctx.applies():
            return await self._through(chunk, toxics, index + 1)
        async with contextlib.aclosing(toxic.kind.transform(chunk, ctx)) as pieces:
            async for piece in pieces:
                if not await self._through(piece, toxics, index + 1):
                    return False
        return not self.connection.closing

    async def _write(self, chunk: Chunk) -> bool:
        """Write one chunk; False if the connection is closing or the write failed."""
        if self.connection.closing or self.writer.is_closing():
            return False
        try:
            self.writer.write(chunk.data)
            self.connection.count_sent(self.stream, len(chunk.data))
            await self.writer.drain()
        except (ConnectionError, OSError, RuntimeError):  # uvloop: RuntimeError on a closed handle
            self.connection.close()
            return False
        return True


class Connection:
    """A client connection and its upstream connection, joined by two links."""

    def __init__(
        self,
        *,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        toxics: Callable[[Stream], list[Toxic]],
        count_received: Callable[[Stream, int], None],
        count_sent: Callable[[Stream, int], None],
    ) -> None:
        self.writers = (client[1], upstream[1])
        self.links = {
            "upstream": Link(self, "upstream", client[0], upstream[1]),
            "downstream": Link(self, "downstream", upstream[0], client[1]),
        }
        self.toxics = toxics
        self.count_received = count_received
        self.count_sent = count_sent
        self.turn = 0
        self._last_stream: Stream | None = None
        #: The upstream ended its side first, the client's last bytes still unanswered.
        self.dropped_by_upstream = False
        self._source_ended = False
        self.closing = False
        self._done = asyncio.Event()

    def note_turn(self, stream: Stream) -> None:
        """Count request/response turns: data in one direction after data in the other."""
        if stream != self._last_stream:
            self._last_stream = stream
            self.turn += 1

    def source_ended(self, stream: Stream) -> None:
        """Note a side that stopped sending (EOF or reset) before the proxy closed anything."""
        if self._source_ended or self.closing:
            return
        self._source_ended = True
        # The downstream link reads the upstream: the server went first, after a request.
        self.dropped_by_upstream = stream == "downstream" and self._last_stream == "upstream"

    async def run(self) -> None:
        """Carry data both ways until both sides finish, or a toxic or the proxy ends it."""
        for link in self.links.values():
            for toxic in self.toxics(link.stream):
                link.attach(toxic)
        tasks = [asyncio.create_task(link.run()) for link in self.links.values()]
        done_waiter = asyncio.create_task(self._done.wait())
        try:
            pending = set(tasks)
            while pending and not done_waiter.done():
                finished, _ = await asyncio.wait(
                    pending | {done_waiter}, return_when=asyncio.FIRST_COMPLETED
                )
                pending -= finished
                if any(
                    t.exception() for t in finished if t is not done_waiter and not t.cancelled()
                ):
                    self.close()  # a direction failed: do not leave the other side hanging
        finally:
            await self._tear_down([done_waiter, *tasks])

    async def _tear_down(self, tasks: list[asyncio.Task[Any]]) -> None:
        pumps = [link.pump for link in self.links.values() if link.pump is not None]
        attached = [
            ctx.attach_task
            for link in self.links.values()
            for ctx in link.contexts.values()
            if ctx.attach_task is not None
        ]
        everything = [*tasks, *pumps, *attached]
        for task in everything:
            task.cancel()
        await asyncio.gather(*everything, return_exceptions=True)
        for writer in self.writers:
            writer.close()
        for writer in self.writers:
            try:
                # A peer that stopped reading would keep a flushing close open for good.
                await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT_S)
            except (TimeoutError, ConnectionError, OSError, RuntimeError):
                writer.transport.abort()

    def attach(self, toxic: Toxic, state: dict[str, Any] | None = None) -> None:
        """A toxic was added while this connection is open: it applies from now on."""
        self.links[toxic.stream].attach(toxic, state)

    def detach(self, toxic: Toxic, *, removed: bool) -> dict[str, Any]:
        return self.links[toxic.stream].detach(toxic, removed=removed)

    def close(self) -> None:
        """Close both sides once what was already written is flushed."""
        self.closing = True
        self._done.set()

    def reset(self) -> None:
        """Reset both sides: SO_LINGER 0 turns the close into a TCP RST."""
        for writer in self.writers:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.abort()

    def abort(self) -> None:
        """Drop the connection now (the proxy was disabled or deleted, or a reset)."""
        for writer in self.writers:
            writer.transport.abort()
        self.close()
