"""`python -m chaos.exporter` serves the Faultyard exporter."""

from chaos.exporter.server import main

main()
