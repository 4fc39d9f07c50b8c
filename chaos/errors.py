"""One exception hierarchy for everything the chaos layer reports to a user."""

from __future__ import annotations


class FaultyardError(Exception):
    """Base of every error Faultyard reports; the CLI exits 2 with its message."""


class ConfigError(FaultyardError):
    """A setting has a value Faultyard cannot use."""


class StackError(FaultyardError):
    """The native stack could not be started, stopped or inspected."""


class MissingDependencyError(StackError):
    """A program the stack needs is not installed."""


class PortInUseError(StackError):
    """A port the stack wants to listen on is taken by another process."""

    def __init__(self, *, service: str, port: int, setting: str) -> None:
        super().__init__(
            f"port {port} for {service} is already in use by another process; "
            f"stop that process or choose another port with {setting}=<port>"
        )
        self.service, self.port, self.setting = service, port, setting


class ServiceStartError(StackError):
    """A service did not become healthy; the message ends with its log's last lines."""


class AdminApiError(FaultyardError):
    """The shop's admin API refused a request or could not be reached."""


class ToxiproxyError(FaultyardError):
    """The Toxiproxy API refused a request or could not be reached."""


class ToxiproxyNotFoundError(ToxiproxyError):
    """No such proxy or toxic (404)."""


class ToxiproxyConflictError(ToxiproxyError):
    """A proxy or toxic of that name exists already (409)."""


class ToxiproxyBadRequestError(ToxiproxyError):
    """The Toxiproxy API refused the input (400)."""
