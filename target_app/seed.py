"""An idempotent seed: a catalog of products with stock, a few users, and customers with history.

Run as `python -m target_app.seed [--products N]` against FAULTYARD_DATABASE_URL,
after the migrations (`python -m target_app.migrate`).
"""

from __future__ import annotations

import argparse

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert

from target_app.config import load_settings
from target_app.db import make_engine
from target_app.models import Product, User
from target_app.seed_data import USERS, product_rows
from target_app.seed_history import seed_history

#: Products the seed makes unless told otherwise.
DEFAULT_PRODUCTS = 1000


def seed(engine: Engine, *, products: int = DEFAULT_PRODUCTS) -> None:
    """Insert the users, products and order history that are missing; keep what exists."""
    with engine.begin() as conn:
        conn.execute(
            insert(User).on_conflict_do_nothing(index_elements=["email"]),
            [{"email": email, "name": name} for email, name in USERS],
        )
        conn.execute(
            insert(Product).on_conflict_do_nothing(index_elements=["sku"]),
            product_rows(products),
        )
        seed_history(conn)


def main(argv: list[str] | None = None) -> None:
    """Seed the database of the shop's settings (FAULTYARD_DATABASE_URL)."""
    parser = argparse.ArgumentParser(prog="python -m target_app.seed", description=main.__doc__)
    parser.add_argument("--products", type=int, default=DEFAULT_PRODUCTS, help="catalog size")
    args = parser.parse_args(argv)
    if args.products < 1:
        parser.error("--products must be at least 1")
    engine = make_engine(load_settings())
    try:
        seed(engine, products=args.products)
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
