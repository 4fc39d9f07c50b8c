"""An idempotent seed: a catalog of products with stock, a few users, and customers with history.

Run as `python -m target_app.seed [--products N]` against FAULTYARD_DATABASE_URL,
after the migrations (`python -m target_app.migrate`).
"""

from __future__ import annotations

import argparse

from sqlalchemy import Engine, or_, update
from sqlalchemy.dialects.postgresql import insert

from target_app.accounts.passwords import hash_password
from target_app.config import ShopSettings, load_settings
from target_app.db import make_engine
from target_app.models import Product, User
from target_app.seed_data import ADMIN_EMAIL, DEMO_PASSWORD, USERS, product_rows
from target_app.seed_history import seed_history

#: Products the seed makes unless told otherwise.
DEFAULT_PRODUCTS = 1000


def seed(
    engine: Engine, *, products: int = DEFAULT_PRODUCTS, settings: ShopSettings | None = None
) -> None:
    """Insert the users, products and order history that are missing; keep what exists.

    Seeded accounts without a password get DEMO_PASSWORD (one Argon2id hash of the
    settings' cost, shared: hashing a thousand customers one by one would take a minute).
    """
    settings = settings or load_settings()
    demo_hash = hash_password(
        DEMO_PASSWORD,
        time_cost=settings.password_hash_time_cost,
        memory_kib=settings.password_hash_memory_kib,
    )
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
        seeded = or_(
            User.email.in_([email for email, _ in USERS]),
            User.email.like("customer-%@example.test"),
        )
        conn.execute(
            update(User).where(seeded, User.password_hash.is_(None)).values(password_hash=demo_hash)
        )
        conn.execute(update(User).where(User.email == ADMIN_EMAIL).values(role="admin"))


def main(argv: list[str] | None = None) -> None:
    """Seed the database of the shop's settings (FAULTYARD_DATABASE_URL)."""
    parser = argparse.ArgumentParser(prog="python -m target_app.seed", description=main.__doc__)
    parser.add_argument("--products", type=int, default=DEFAULT_PRODUCTS, help="catalog size")
    args = parser.parse_args(argv)
    if args.products < 1:
        parser.error("--products must be at least 1")
    settings = load_settings()
    engine = make_engine(settings)
    try:
        seed(engine, products=args.products, settings=settings)
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
