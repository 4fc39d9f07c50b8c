"""`python -m chaos` runs the faultyard command."""

from chaos.cli import main

main()
