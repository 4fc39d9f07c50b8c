"""The API contract: every answer of the running shop matches /openapi.json.

Schemathesis (its Python API, see tests/target_app/contract_run.py) fuzzes the
stack's gunicorn shop directly (loopback, not through the proxy): its coverage,
fuzzing and stateful phases, with a fixed seed and bounded examples. The
stateful phase follows the document's links from a new cart to its items, its
checkout and the order placed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chaos.stack.manager import Stack
from tests.conftest import login_headers
from tests.target_app import contract_run

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 10
MAX_STEPS = 20
STOCK = 1_000_000  # far more than the run can buy


def test_every_answer_matches_the_document(
    stack: Stack, new_products: Callable[..., list[int]]
) -> None:
    token = stack.settings.state_path.joinpath("admin-token").read_text().strip()
    products = new_products(STOCK, STOCK, STOCK)
    shopper = login_headers(stack.settings.app_url, user_id=contract_run.SHOPPER_ID)
    outcome = contract_run.run(
        stack.settings.app_url,
        token=token,
        access_token=shopper["Authorization"].removeprefix("Bearer "),
        products=products,
        max_examples=MAX_EXAMPLES,
        max_steps=MAX_STEPS,
    )

    assert not outcome.errors, outcome.errors
    assert not outcome.failures, "\n\n".join(outcome.failure_texts)
    assert not outcome.refused_as_invalid, outcome.refused_as_invalid
    assert not [key for key in outcome.calls if key[2] >= 500]
    # The stateful phase followed the links through the whole purchase.
    assert outcome.called("POST /carts", 201) > 0
    assert outcome.called("POST /carts/{cart_id}/items", 200) > 0
    assert outcome.called("POST /carts/{cart_id}/checkout", 201) > 0
    assert outcome.called("POST /orders", 201) > 0
    assert outcome.called("GET /orders/{order_id}", 200) > 0
