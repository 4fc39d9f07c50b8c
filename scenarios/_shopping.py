"""What the shoppers share: the seed's products and users, the hot products, how answers are judged.

Imported by the Locust file (scenarios/locustfile.py) in Locust's own process.
"""

from __future__ import annotations

import os
import random

from locust.contrib.fasthttp import ResponseContextManager

from target_app.public import CUSTOMER_ID_BASE, CUSTOMERS

SEED_PRODUCTS = max(1, int(os.environ.get("FAULTYARD_SEED_PRODUCTS", "1000")))
if os.environ.get("FAULTYARD_LOAD_SEED"):
    # `faultyard scenario --seed N`: the same choices of products, users and think times
    # (their interleaving still depends on timing).
    random.seed(int(os.environ["FAULTYARD_LOAD_SEED"]))
#: The seed's regular customers, each with a history of past orders.
CUSTOMER_IDS = range(CUSTOMER_ID_BASE + 1, CUSTOMER_ID_BASE + CUSTOMERS + 1)
#: ContendedBuyer's hot products: the first few with stock left on one catalog page, a page
#: that every user picks alike and that moves on every few seconds, so stock never runs dry.
HOT_PRODUCTS = 3
HOT_WINDOW_S = 10
HOT_PAGE_SIZE = 20
HOT_MIN_STOCK = 20
#: MobileBuyer's patience for one answer, and how often it retries a purchase that got none.
MOBILE_TIMEOUT_S = 2.0
MOBILE_RETRIES = 2
#: More units than the seed ever stocks (stock is 50..499): GreedyBuyer's checkout is always refused.
GREEDY_QUANTITY = 1000


def popular_product() -> int:
    """Return a product id, low ids far more often: a few products get most of the views."""
    return 1 + int(SEED_PRODUCTS * random.random() ** 3)


def any_product() -> int:
    """Return a product id, every product alike (purchases spread over the catalog)."""
    return random.randint(1, SEED_PRODUCTS)


def expect(response: ResponseContextManager, *statuses: int) -> bool:
    """Mark the response a success if its status is one of `statuses`, else a failure."""
    if response.status_code in statuses:
        response.success()
        return True
    body = (response.text or "")[:200]
    response.failure(f"{response.status_code} (expected {statuses}): {body}")
    return False
