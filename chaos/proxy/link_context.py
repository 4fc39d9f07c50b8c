"""A toxic's view of one link of a proxied connection: its state, its dice roll, its clock."""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING, Any

from chaos.proxy.toxic import Toxic
from chaos.proxy.toxics import ToxicContext

if TYPE_CHECKING:
    from chaos.proxy.connection import Link


class LinkToxicContext(ToxicContext):
    """One toxic acting on one link: its state and its once-per-connection (or request) dice roll."""

    def __init__(self, link: Link, toxic: Toxic, state: dict[str, Any] | None = None) -> None:
        self.link = link
        self.toxic = toxic
        self.state: dict[str, Any] = state if state is not None else {}
        self._roll_key: int | None = None
        self.rolled_in = False
        self.attach_task: asyncio.Task[None] | None = None

    def applies(self) -> bool:
        """Return whether the toxic acts now; rolled per connection, or per request when asked."""
        key = self.link.connection.turn if self.toxic.toxicity_per == "request" else 0
        if key != self._roll_key:
            self._roll_key = key
            self.rolled_in = random.random() < self.toxic.toxicity
        return self.rolled_in and not self.toxic.removed

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> bool:
        if self.toxic.removed:
            return False
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        timer = loop.call_later(max(0.0, seconds), _resolve, waiter, True)
        self.toxic.waiters.add(waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            self.toxic.waiters.discard(waiter)

    def close(self) -> None:
        self.link.connection.close()

    def reset(self) -> None:
        self.link.connection.reset()


def _resolve(waiter: asyncio.Future[bool], value: bool) -> None:
    if not waiter.done():
        waiter.set_result(value)
