"""Bring the database schema to the newest migration.

Run as `python -m target_app.migrate` against FAULTYARD_DATABASE_URL (the stack
runs it, then `python -m target_app.seed`, before the shop starts).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alembic import command
from alembic.config import Config

from target_app.config import load_settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    """Return an Alembic config for the shop's migrations against `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    """Apply every migration not applied yet."""
    command.upgrade(alembic_config(database_url), "head")


def main(argv: list[str] | None = None) -> None:
    """Apply the migrations not applied yet to the shop's database (FAULTYARD_DATABASE_URL)."""
    parser = argparse.ArgumentParser(prog="python -m target_app.migrate", description=main.__doc__)
    parser.parse_args(argv)
    upgrade(load_settings().database_url)


if __name__ == "__main__":
    main()
