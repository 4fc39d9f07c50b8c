"""A typed client of the Toxiproxy HTTP API (the embedded server or a real one), with timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

from chaos.errors import FaultyardError

TIMEOUT_S = 5.0


class ToxiproxyError(FaultyardError):
    """The Toxiproxy API refused a request or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFoundError(ToxiproxyError):
    """No such proxy or toxic (404)."""


class ConflictError(ToxiproxyError):
    """A proxy or toxic of that name exists already (409)."""


class BadRequestError(ToxiproxyError):
    """The API refused the input (400)."""


_ERRORS: dict[int, type[ToxiproxyError]] = {
    404: NotFoundError,
    409: ConflictError,
    400: BadRequestError,
}


@dataclass(frozen=True)
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, int]
    duration_ms: int | None = None
    toxicity_per: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Toxic:
        return cls(
            name=data["name"],
            type=data["type"],
            stream=data.get("stream", "downstream"),
            toxicity=float(data.get("toxicity", 1.0)),
            attributes=dict(data.get("attributes") or {}),
            duration_ms=data.get("duration_ms"),
            toxicity_per=data.get("toxicity_per"),
        )


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
            toxics=[Toxic.from_json(t) for t in data.get("toxics") or []],
        )


class ToxiproxyClient:
    """Calls one Toxiproxy API server; every call has a timeout and raises typed errors."""

    def __init__(self, url: str, *, timeout_s: float = TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._http = requests.Session()
        self._http.headers["User-Agent"] = "faultyard"

    def version(self) -> str:
        """Return the server's version (JSON since Toxiproxy 2.7, plain text before)."""
        try:
            response = self._http.get(self.url + "/version", timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise ToxiproxyError(
                f"the Toxiproxy API is not reachable at {self.url} ({type(exc).__name__})"
            ) from None
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
        """Add a toxic; `duration_ms` and `toxicity_per` are Faultyard's extensions."""
        body: dict[str, Any] = {
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": attributes or {},
        }
        if name:
            body["name"] = name
        if duration_ms:
            body["duration_ms"] = duration_ms
        if toxicity_per:
            body["toxicity_per"] = toxicity_per
        return Toxic.from_json(self._call("POST", f"/proxies/{proxy}/toxics", json=body))

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
        return Toxic.from_json(self._call("POST", f"/proxies/{proxy}/toxics/{name}", json=body))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("POST", "/reset")

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, self.url + path, timeout=self.timeout_s, **kwargs)
        except requests.RequestException as exc:
            raise ToxiproxyError(
                f"the Toxiproxy API is not reachable at {self.url} ({type(exc).__name__}); "
                "is the stack up? (`faultyard up`)"
            ) from None
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text.strip())
            except ValueError:
                message = response.text.strip()
            error = _ERRORS.get(response.status_code, ToxiproxyError)
            raise error(f"{method} {path}: {message}", response.status_code)
        return response.json() if response.content else None
