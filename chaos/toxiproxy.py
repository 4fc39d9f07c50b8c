"""A typed client of the Toxiproxy HTTP API (the embedded server or a real one), with timeouts.

Toxics travel as chaos.faults.Toxic, the tool's one model of a toxic: what it
sends is checked against the proxy's toxic kinds, and what it reads back names
the proxy it is on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chaos.errors import (
    ToxiproxyBadRequestError,
    ToxiproxyConflictError,
    ToxiproxyError,
    ToxiproxyNotFoundError,
)
from chaos.faults.toxic import Toxic
from chaos.http import HttpClient

TIMEOUT_S = 5.0

_ERRORS: dict[int, type[ToxiproxyError]] = {
    404: ToxiproxyNotFoundError,
    409: ToxiproxyConflictError,
    400: ToxiproxyBadRequestError,
}


def toxic_from_json(proxy: str, data: dict[str, Any]) -> Toxic:
    """Return a toxic as the API shows it, on the proxy that holds it."""
    return Toxic(
        proxy=proxy,
        name=data["name"],
        type=data["type"],
        stream=data.get("stream") or "downstream",
        toxicity=float(data.get("toxicity", 1.0)),
        attributes=dict(data.get("attributes") or {}),
        duration_ms=data.get("duration_ms"),
        toxicity_per=data.get("toxicity_per"),
    )


def toxic_body(toxic: Toxic) -> dict[str, Any]:
    """Return the API's JSON body that adds a toxic (extensions only when asked for)."""
    body: dict[str, Any] = {
        "name": toxic.toxic_name,
        "type": toxic.type,
        "stream": toxic.stream,
        "toxicity": toxic.toxicity,
        "attributes": dict(toxic.attributes),
    }
    if toxic.duration_ms:
        body["duration_ms"] = toxic.duration_ms
    if toxic.toxicity_per:
        body["toxicity_per"] = toxic.toxicity_per
    return body


@dataclass(frozen=True)
class Proxy:
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: list[Toxic] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Proxy:
        return cls(
            name=data["name"],
            listen=data["listen"],
            upstream=data["upstream"],
            enabled=bool(data["enabled"]),
            toxics=[toxic_from_json(data["name"], t) for t in data.get("toxics") or []],
        )


class ToxiproxyClient:
    """Calls one Toxiproxy API server; every call has a timeout and raises typed errors."""

    def __init__(self, url: str, *, timeout_s: float = TIMEOUT_S) -> None:
        self._http = HttpClient(
            url,
            service="the Toxiproxy API",
            error=ToxiproxyError,
            by_status=_ERRORS,
            timeout_s=timeout_s,
        )
        self.url = self._http.url
        self.timeout_s = timeout_s

    def version(self) -> str:
        """Return the server's version (JSON since Toxiproxy 2.7, plain text before)."""
        response = self._http.request("GET", "/version", check=False)
        try:
            return str(response.json()["version"])
        except (ValueError, KeyError, TypeError):
            return response.text.strip()

    def proxies(self) -> dict[str, Proxy]:
        return {n: Proxy.from_json(p) for n, p in self._call("GET", "/proxies").items()}

    def proxy(self, name: str) -> Proxy:
        return Proxy.from_json(self._call("GET", f"/proxies/{name}"))

    def create_proxy(self, name: str, *, listen: str, upstream: str, enabled: bool = True) -> Proxy:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        return Proxy.from_json(self._call("POST", "/proxies", json=body))

    def populate(self, proxies: list[dict[str, Any]]) -> list[Proxy]:
        """Create or replace proxies; unchanged ones keep their toxics."""
        return [
            Proxy.from_json(p)
            for p in self._call("POST", "/populate", json=proxies)["proxies"] or []
        ]

    def set_enabled(self, name: str, enabled: bool) -> Proxy:
        return Proxy.from_json(self._call("POST", f"/proxies/{name}", json={"enabled": enabled}))

    def delete_proxy(self, name: str) -> None:
        self._call("DELETE", f"/proxies/{name}")

    def add(self, toxic: Toxic) -> Toxic:
        """Add a toxic to its proxy; refuse (and remove it) if the server drops an extension.

        A real Toxiproxy ignores Faultyard's extensions: a toxic meant to remove
        itself after `duration_ms` would then never go.
        """
        data = self._call("POST", f"/proxies/{toxic.proxy}/toxics", json=toxic_body(toxic))
        added = toxic_from_json(toxic.proxy, data)
        ignored = [
            option
            for option, asked, kept in (
                ("duration_ms", toxic.duration_ms, added.duration_ms),
                ("toxicity_per", toxic.toxicity_per == "request", added.toxicity_per == "request"),
            )
            if asked and not kept
        ]
        if ignored:
            self.remove_toxic(toxic.proxy, added.toxic_name, missing_ok=True)
            raise ToxiproxyError(
                f"the Toxiproxy server at {self.url} ignores {', '.join(ignored)} (Faultyard "
                "extensions); the toxic was not added. Use the embedded server, or leave them out."
            )
        return added

    def add_toxic(
        self,
        proxy: str,
        type: str,
        *,
        attributes: dict[str, int] | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
        duration_ms: int | None = None,
        toxicity_per: str | None = None,
    ) -> Toxic:
        """Add a toxic (see `add`); `duration_ms` and `toxicity_per` are Faultyard's extensions."""
        toxic = Toxic.model_validate(
            {
                "proxy": proxy,
                "type": type,
                "attributes": attributes or {},
                "stream": stream,
                "toxicity": toxicity,
                "name": name,
                "duration_ms": duration_ms,
                "toxicity_per": toxicity_per,
            }
        )
        return self.add(toxic)

    def update_toxic(
        self,
        proxy: str,
        name: str,
        *,
        attributes: dict[str, int] | None = None,
        toxicity: float | None = None,
    ) -> Toxic:
        body: dict[str, Any] = {"attributes": attributes or {}}
        if toxicity is not None:
            body["toxicity"] = toxicity
        return toxic_from_json(
            proxy, self._call("POST", f"/proxies/{proxy}/toxics/{name}", json=body)
        )

    def remove_toxic(self, proxy: str, name: str, *, missing_ok: bool = False) -> bool:
        """Remove a toxic; return whether it was there (ToxiproxyNotFoundError unless `missing_ok`)."""
        try:
            self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")
        except ToxiproxyNotFoundError:
            if not missing_ok:
                raise
            return False
        return True

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("POST", "/reset")

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        return response.json() if response.content else None
