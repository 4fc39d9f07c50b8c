"""An idempotent seed: a catalog of products with stock and a few users."""

from __future__ import annotations

import random

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert

from target_app.models import Product, User

CATEGORIES = (
    "books",
    "games",
    "garden",
    "kitchen",
    "music",
    "outdoor",
    "office",
    "tools",
    "toys",
    "sports",
)
ADJECTIVES = (
    "Amber",
    "Brisk",
    "Cobalt",
    "Dusty",
    "Electric",
    "Frosted",
    "Golden",
    "Hidden",
    "Iron",
    "Jade",
    "Lucky",
    "Mellow",
    "Nimble",
    "Olive",
    "Plain",
    "Quiet",
    "Rustic",
    "Silver",
)
NOUNS = (
    "Anvil",
    "Beacon",
    "Compass",
    "Drum",
    "Easel",
    "Flask",
    "Globe",
    "Hammock",
    "Kettle",
    "Lantern",
    "Mug",
    "Notebook",
    "Paddle",
    "Quill",
    "Rope",
    "Satchel",
    "Teapot",
    "Whistle",
)
USERS = (
    ("ada@example.test", "Ada"),
    ("grace@example.test", "Grace"),
    ("linus@example.test", "Linus"),
    ("barbara@example.test", "Barbara"),
    ("ken@example.test", "Ken"),
)


def product_rows(count: int, *, seed: int = 42) -> list[dict[str, object]]:
    """Return `count` deterministic product rows."""
    rng = random.Random(seed)
    return [
        {
            "sku": f"SKU-{n:05d}",
            "name": f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {n}",
            "category": rng.choice(CATEGORIES),
            "price_cents": rng.randrange(199, 49_999),
            "stock": rng.randrange(50, 500),
        }
        for n in range(1, count + 1)
    ]


def seed(engine: Engine, *, products: int = 1000) -> None:
    """Insert the users and products that are missing; existing rows are left as they are."""
    with engine.begin() as conn:
        conn.execute(
            insert(User).on_conflict_do_nothing(index_elements=["email"]),
            [{"email": email, "name": name} for email, name in USERS],
        )
        conn.execute(
            insert(Product).on_conflict_do_nothing(index_elements=["sku"]),
            product_rows(products),
        )
