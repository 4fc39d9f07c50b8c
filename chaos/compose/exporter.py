"""Run the Faultyard exporter in a container: on every interface, for Prometheus's container.

The exporter's own entry point refuses anything but loopback (natively it must not
be reachable from the network). In compose, Prometheus scrapes it from another
container, and only its port published on the host's 127.0.0.1 leaves the network.
"""

from __future__ import annotations

import dataclasses
import sys

from chaos.exporter.server import parse_args, serve

ALL_INTERFACES = "0.0.0.0"


def main(argv: list[str] | None = None) -> None:
    """Serve /metrics on every interface until SIGTERM or SIGINT (options as the exporter's)."""
    serve(dataclasses.replace(parse_args(argv), host=ALL_INTERFACES))


if __name__ == "__main__":
    main(sys.argv[1:])
