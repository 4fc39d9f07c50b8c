"""One way for the tool's HTTP clients to call a server: a timeout, and failures as their errors.

Each client (the shop's admin API, the Toxiproxy API, Prometheus) names its own
FaultyardError subclasses; a server that does not answer, or answers 4xx/5xx,
becomes one of them with a message that says where and what.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from chaos.errors import FaultyardError

#: How much of an error answer's text a message quotes.
QUOTED_CHARS = 200


def error_text(response: requests.Response) -> str:
    """Return what an error answer says: its JSON `error`, else the start of its text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return response.text.strip()[:QUOTED_CHARS]


class HttpClient:
    """Calls one server with a timeout; raises its owner's error types, never requests' own."""

    def __init__(
        self,
        url: str,
        *,
        service: str,
        error: type[FaultyardError],
        timeout_s: float,
        unreachable: type[FaultyardError] | None = None,
        by_status: Mapping[int, type[FaultyardError]] | None = None,
        headers: Mapping[str, str] | None = None,
        keep_alive: bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.service = service
        self.error = error
        self.unreachable = unreachable or error
        self.by_status = dict(by_status or {})
        self.timeout_s = timeout_s
        self.headers = {"User-Agent": "faultyard", **(headers or {})}
        # Without keep-alive every call opens its own connection, as for the shop, whose
        # workers a graceful reload replaces under a kept-alive one.
        self._session = requests.Session() if keep_alive else None

    def request(
        self, method: str, path: str, *, check: bool = True, **kwargs: Any
    ) -> requests.Response:
        """Send one request; raise `unreachable` if nothing answers, the error for 4xx/5xx if `check`."""
        sender = self._session.request if self._session is not None else requests.request
        headers = {**self.headers, **kwargs.pop("headers", {})}
        try:
            response = sender(
                method, self.url + path, headers=headers, timeout=self.timeout_s, **kwargs
            )
        except requests.RequestException as exc:
            raise self.unreachable(
                f"{self.service} is not reachable at {self.url} ({type(exc).__name__}); "
                "is the stack up? (`faultyard up`)"
            ) from None
        if check and response.status_code >= 400:
            error = self.by_status.get(response.status_code, self.error)
            raise error(f"{method} {path} answered {response.status_code}: {error_text(response)}")
        return response
