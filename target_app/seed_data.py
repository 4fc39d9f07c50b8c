"""What the seed inserts: deterministic products (names, categories, prices, stock) and users.

Pure data, no database: the Locust shoppers pick from the same names and users.
"""

from __future__ import annotations

import random

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

#: Every seeded account's password (the load generator logs in with it; documented in the
#: README). A shop with real customers would never have one: this one is a practice range.
DEMO_PASSWORD = "faultyard-demo-password"
#: The seeded account with the admin role (it may manage products).
ADMIN_EMAIL = "ada@example.test"

#: Regular customers: customer-000001@example.test is user CUSTOMER_ID_BASE + 1, and so on.
#: Each has this many past orders.
CUSTOMER_ID_BASE = 100_000
CUSTOMERS = 1000
ORDERS_PER_CUSTOMER = 30


def customer_email(user_id: int) -> str:
    """Return the email of the seeded customer with this id (CUSTOMER_ID_BASE + n)."""
    return f"customer-{user_id - CUSTOMER_ID_BASE:06d}@example.test"


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
