"""Ports for throwaway stacks: free, distinct, and never from the kernel's ephemeral range."""

from __future__ import annotations

import socket

from chaos.ports import LOWEST, ephemeral_range, free_port


def test_ports_are_free_distinct_and_outside_the_ephemeral_range() -> None:
    ephemeral = ephemeral_range()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    for port in ports:
        assert port not in ephemeral and port >= LOWEST, port
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # nobody listens there
