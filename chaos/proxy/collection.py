"""Every proxy of one server, and the operations the API performs on them."""

from __future__ import annotations

import asyncio
from typing import Any

from chaos.proxy.proxy import Proxy, ProxyError, split_address
from chaos.proxy.toxic import Toxic, ToxicSpecError, build_toxic


def _required(body: dict[str, Any], field: str, suffix: str = "") -> str:
    value = body.get(field)
    if not value:
        raise ProxyError(f"missing required field: {field}{suffix}", 400)
    if not isinstance(value, str):
        raise ProxyError(f"bad request body: {field} must be a string", 400)
    return value


def _address(body: dict[str, Any], field: str, default: str) -> str:
    value = body.get(field) or default
    if not isinstance(value, str):
        raise ProxyError(f"bad request body: {field} must be a string", 400)
    return value


def _enabled(body: dict[str, Any], default: bool = True) -> bool:
    value = body.get("enabled")
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ProxyError("bad request body: enabled must be true or false", 400)
    return value


class ProxyCollection:
    """The server's proxies by name. Changes hold `lock`, one at a time, as Toxiproxy's mutex."""

    def __init__(self) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ProxyError("proxy not found", 404)
        return proxy

    async def create(self, body: Any) -> Proxy:
        if not isinstance(body, dict):
            raise ProxyError("bad request body: expected a JSON object", 400)
        name = _required(body, "name")
        upstream = _required(body, "upstream")
        if name in self.proxies:
            raise ProxyError("proxy already exists", 409)
        return await self._start(
            name, body.get("listen") or "127.0.0.1:0", upstream, _enabled(body)
        )

    async def populate(self, body: Any) -> tuple[list[Proxy], ProxyError | None]:
        """Create or replace a list of proxies; an unchanged proxy keeps its toxics."""
        if not isinstance(body, list) or not all(isinstance(p, dict) for p in body):
            raise ProxyError("bad request body: expected a JSON array of proxies", 400)
        for n, item in enumerate(body):
            _required(item, "name", f" at proxy {n + 1}")
            _required(item, "upstream", f" at proxy {n + 1}")
        done: list[Proxy] = []
        try:
            for item in body:
                existing = self.proxies.get(item["name"])
                listen = _address(item, "listen", "127.0.0.1:0")
                if existing and existing.listen == listen and existing.upstream == item["upstream"]:
                    done.append(existing)
                    continue
                if existing:
                    await self.delete(existing.name)
                done.append(
                    await self._start(item["name"], listen, item["upstream"], _enabled(item))
                )
        except ProxyError as exc:
            return done, exc
        return done, None

    async def update(self, name: str, body: Any) -> Proxy:
        """Change listen, upstream or enabled; fields left out keep their values."""
        if not isinstance(body, dict):
            raise ProxyError("bad request body: expected a JSON object", 400)
        proxy = self.get(name)
        listen = _address(body, "listen", proxy.listen)
        upstream = _address(body, "upstream", proxy.upstream)
        enabled = _enabled(body, proxy.enabled)
        if (listen, upstream) != (proxy.listen, proxy.upstream):
            split_address(listen)
            split_address(upstream)
            await proxy.set_enabled(False)
            proxy.listen, proxy.upstream = listen, upstream
        await proxy.set_enabled(enabled)
        return proxy

    async def delete(self, name: str) -> None:
        proxy = self.get(name)
        await proxy.stop()
        proxy.remove_all_toxics()
        proxy.forget_metrics()
        del self.proxies[name]

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        for proxy in self.proxies.values():
            proxy.remove_all_toxics()
            await proxy.set_enabled(True)

    def add_toxic(self, proxy_name: str, body: Any) -> Toxic:
        proxy = self.get(proxy_name)
        try:
            toxic = build_toxic(body)
        except ToxicSpecError as exc:
            raise ProxyError(str(exc), 400) from None
        return proxy.add_toxic(toxic)

    def update_toxic(self, proxy_name: str, toxic_name: str, body: Any) -> Toxic:
        proxy = self.get(proxy_name)
        base = proxy.get_toxic(toxic_name)
        try:
            toxic = build_toxic(body, base=base)
        except ToxicSpecError as exc:
            raise ProxyError(str(exc), 400) from None
        return proxy.replace_toxic(toxic_name, toxic)

    async def _start(self, name: str, listen: str, upstream: str, enabled: bool) -> Proxy:
        proxy = Proxy(name, listen, upstream, enabled)
        if enabled:
            await proxy.start()
        self.proxies[name] = proxy
        return proxy
