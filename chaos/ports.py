"""Free loopback ports for throwaway stacks (tests, benchmarks), outside the ephemeral range.

A port from `bind(port 0)` comes from the kernel's ephemeral range, where it
also picks the local port of every outgoing connection. Between choosing such
a port and a server binding it, a connection to PostgreSQL or Redis can take
it (seen in CI: the proxy's `bind: address already in use`). Ports chosen
below that range, and above the stack's default ports, are never taken that way.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

#: Above every default port of the stack (chaos.settings: 15432 to 28000).
LOWEST = 30000
_EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: set[int] = set()


def ephemeral_range() -> range:
    """Return the ports the kernel picks for outgoing connections (Linux's default if unknown)."""
    try:
        low, high = (int(n) for n in _EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port nobody listens on now and no outgoing connection will take meanwhile.

    Never the same port twice in one process, so ports chosen together stay distinct.
    """
    ephemeral = ephemeral_range()
    candidates = [p for p in range(LOWEST, max(LOWEST, ephemeral.start)) if p not in _handed_out]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    # No room below the ephemeral range: fall back to the kernel's choice.
    with socket.socket() as sock:
        sock.bind((host, 0))
        port = int(sock.getsockname()[1])
    _handed_out.add(port)
    return port
