"""A small client of the shop's admin API (bug switches, runtime settings), with timeouts."""

from __future__ import annotations

from typing import Any

from chaos.errors import AdminApiError
from chaos.http import HttpClient

TIMEOUT_S = 5.0


class AdminClient:
    """Talks to /admin on the shop with the stack's admin token."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = HttpClient(
            self.base_url,
            service="the shop",
            error=AdminApiError,
            timeout_s=TIMEOUT_S,
            headers={"Authorization": f"Bearer {token}"},
            keep_alive=False,
        )

    def switches(self) -> list[dict[str, Any]]:
        """Return every switch with its state and what it breaks."""
        return self._call("GET", "/admin/switches")["switches"]  # type: ignore[no-any-return]

    def set_switch(self, name: str, on: bool) -> list[dict[str, Any]]:
        """Turn a bug on or off for every process of the stack."""
        return self._call("PUT", f"/admin/switches/{name}", json={"on": on})["switches"]  # type: ignore[no-any-return]

    def reset_switches(self) -> list[dict[str, Any]]:
        """Turn every bug off."""
        return self._call("POST", "/admin/switches/reset")["switches"]  # type: ignore[no-any-return]

    def settings(self) -> list[dict[str, Any]]:
        """Return every runtime setting: name, value, default, overridden, type, range, read_by."""
        return self._call("GET", "/admin/settings")["settings"]  # type: ignore[no-any-return]

    def set_setting(self, name: str, value: bool | int | float | str) -> list[dict[str, Any]]:
        """Change a setting for every process of the stack (the shop validates type and range)."""
        return self._call("PUT", f"/admin/settings/{name}", json={"value": value})["settings"]  # type: ignore[no-any-return]

    def reset_setting(self, name: str) -> list[dict[str, Any]]:
        """Put one setting back to its default."""
        return self._call("DELETE", f"/admin/settings/{name}")["settings"]  # type: ignore[no-any-return]

    def reset_settings(self) -> list[dict[str, Any]]:
        """Put every runtime setting back to its default."""
        return self._call("POST", "/admin/settings/reset")["settings"]  # type: ignore[no-any-return]

    def workers(self) -> dict[str, Any]:
        """Return the shop's gunicorn master pid and its workers' pids (retiring ones included)."""
        return self._call("GET", "/admin/workers")

    def reload(self) -> dict[str, Any]:
        """Ask the shop's gunicorn master to reload gracefully; return its pid and the worker's."""
        return self._call("POST", "/admin/reload")

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if not self.token:
            raise AdminApiError(
                "no admin token: start the stack with `faultyard up` (it writes one to the "
                "state folder) or set FAULTYARD_ADMIN_TOKEN"
            )
        return self._http.request(method, path, **kwargs).json()  # type: ignore[no-any-return]
