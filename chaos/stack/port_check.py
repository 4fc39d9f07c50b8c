"""Whether the ports a service is about to listen on are free, checked before it starts."""

from __future__ import annotations

import errno
import socket

from chaos.errors import PortInUseError
from chaos.settings import StackSettings
from chaos.stack.service import Service


def port_taken(host: str, port: int) -> bool:
    """Tell whether something already listens on host:port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def check_ports_free(settings: StackSettings, to_start: list[Service]) -> None:
    """Raise PortInUseError for the first port of these services something already holds."""
    for svc in to_start:
        for port, setting in svc.ports(settings):
            if port_taken(settings.host, port):
                raise PortInUseError(service=svc.name, port=port, setting=setting)
