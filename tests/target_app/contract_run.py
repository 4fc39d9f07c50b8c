"""Schemathesis against a running shop, through its Python API: what the contract test runs.

It runs the phases of `st run` (coverage, fuzzing, stateful) in this process and
tallies what happened: the operations called with their statuses, and every
failed check. Imported by the test only, after tests/conftest.py has let gevent
patch the standard library (schemathesis imports requests, hence ssl).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from jsonschema import Draft202012Validator
from schemathesis.engine import events, from_schema

SEED = 20261206
#: Operations left out of the run, and why.
EXCLUDED = {
    # They change the shared stack for every later test: bugs switched on, runtime
    # settings changed, gunicorn reloaded (tests/target_app/test_switches.py and
    # test_runtime_settings.py cover them). The admin API's GETs are fuzzed, with the token.
    r"^/admin/(switches/|settings/|reload$)": "admin writes",
    # An endless Server-Sent Events stream: a request to it only ends when the client stops.
    r"^/stream/stock$": "the stock stream",
    # A long-poll: each request is held until a stock change or its timeout_s (up to 30 s),
    # which would make the run minutes long; tests/target_app/test_stock_changes.py covers it.
    r"^/stock/changes$": "the stock long-poll",
}
#: The shopper the run acts as (a seeded user; not the admin: product writes answer 403).
SHOPPER_ID = 2
#: Operations whose 422 may answer a schema-valid request: checking out an empty cart,
#: or a purchase under an Idempotency-Key already used for another one (rules on the
#: state, not on the input; the test asserts that none of their 422s is a validation error).
STATEFUL_422 = ("POST /carts/{cart_id}/checkout", "POST /orders")
#: Its 404 also answers an unknown product named in the body: the check (a 404 right
#: after POST /carts made the cart) would take that for the new cart gone missing.
ADD_ITEM = "POST /carts/{cart_id}/items"
#: positive_data_acceptance's default statuses, and 422.
_ACCEPTED_OR_STATEFUL_422 = ["2XX", "3XX", 401, 403, 404, 409, 422, 429, "5XX"]


@dataclass
class Outcome:
    """What a run did: calls by (phase, operation, status), failures by (check, operation)."""

    calls: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    failure_texts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refused_as_invalid: list[str] = field(default_factory=list)

    def called(self, operation: str, status: int, phase: str = "stateful") -> int:
        return sum(
            n for (p, op, s), n in self.calls.items() if (p, op, s) == (phase, operation, status)
        )


#: schemathesis's statuses that reject invalid data, and gunicorn's 414.
_REJECTED = ["400", "401", "403", "404", "406", "414", "422", "428", "5xx"]


def config(
    *, token: str, access_token: str, products: list[int], max_examples: int, max_steps: int
) -> Any:
    """Return the run's configuration: seed, bounds, the tokens, and known test data.

    The admin API gets the admin token, a shopper's routes the shopper's access token
    (each by its security scheme). Known products and the shopper's own id are drawn
    most of the time (dictionaries), so that generated purchases succeed often enough
    for the flow to go on from them.
    """
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "request-timeout": 10,
            # An address of its own: its many generated logins use up the login limit of
            # that address, not the one the other tests log in from.
            "headers": {"X-Forwarded-For": "198.51.100.7"},
            "auth": {
                "openapi": {
                    "adminToken": {"bearer": token},
                    "accessToken": {"bearer": access_token},
                }
            },
            "generation": {"max-examples": max_examples, "deterministic": True},
            # Only the links the document declares: they are what this test checks.
            "phases": {"stateful": {"max-steps": max_steps, "inference": {"algorithms": []}}},
            # A request line too long for gunicorn (over 4094 bytes: long generated queries)
            # is refused before the shop sees it, with 414 URI Too Long: a rejection too.
            "checks": {"negative_data_rejection": {"expected-statuses": _REJECTED}},
            "dictionaries": {
                "users": {"values": [SHOPPER_ID]},
                "products": {"values": products},
                "quantities": {"values": [1, 2, 3]},
            },
            "parameters": {
                "path.user_id": {"dictionary": "users", "probability": 0.8},
                "body.product_id": {"dictionary": "products", "probability": 0.8},
                "body.quantity": {"dictionary": "quantities", "probability": 0.8},
            },
            "operations": [
                {
                    "include-name": list(STATEFUL_422),
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": _ACCEPTED_OR_STATEFUL_422}
                    },
                },
                {
                    "include-name": ADD_ITEM,
                    "checks": {"ensure_resource_availability": {"enabled": False}},
                },
            ],
        }
    )


def run(
    base_url: str,
    *,
    token: str,
    access_token: str,
    products: list[int],
    max_examples: int,
    max_steps: int,
) -> Outcome:
    """Run schemathesis against the shop at `base_url` and tally what it did."""
    cfg = config(
        token=token,
        access_token=access_token,
        products=products,
        max_examples=max_examples,
        max_steps=max_steps,
    )
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=cfg)
    schema = schema.exclude(path_regex="|".join(EXCLUDED))
    outcome = Outcome()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            phase = str(event.phase) if isinstance(event, events.ScenarioFinished) else "fuzzing"
            _tally(outcome, phase, event.recorder, schema.raw_schema)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            outcome.errors.append(repr(event))
    return outcome


def _tally(outcome: Outcome, phase: str, recorder: Any, document: dict[str, Any]) -> None:
    for case_id, interaction in recorder.interactions.items():
        case = recorder.cases[case_id].value
        response = interaction.response
        if response is None:
            outcome.errors.append(f"no response: {case.method} {case.formatted_path}")
            continue
        label = f"{case.method.upper()} {case.operation.path}"
        outcome.calls[(phase, label, response.status_code)] += 1
        if label in STATEFUL_422 and _refused_as_invalid(case, response, document):
            outcome.refused_as_invalid.append(f"{label} {case.body!r}: {response.text[:200]}")
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            label = recorder.cases[case_id].value.operation.label
            outcome.failures[(check.name, label)] += 1
            outcome.failure_texts.append(
                f"{check.name} on {label}: {check.failure_info.failure.title}\n"
                f"{check.failure_info.code_sample}"
            )


def _refused_as_invalid(case: Any, response: Any, document: dict[str, Any]) -> bool:
    """Return whether a schema-valid request got a validation error (a 422 with `details`)."""
    if response.status_code != 422:
        return False
    body = response.json()
    if "details" not in body:
        return False  # the state's 422: an empty cart, a key reused for another purchase
    content = case.operation.definition.raw.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        return True  # no body to get wrong
    validator = Draft202012Validator({**schema, "components": document["components"]})
    return validator.is_valid(case.body)
