"""The scenario format: what it accepts, what it refuses, and how it reads back from JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import ValidationError

from chaos.scenarios.model import (
    HTTPProbe,
    LoadProfile,
    PromQLProbe,
    Scenario,
    Setting,
    SQLProbe,
    Switch,
    Toxic,
    compare,
)
from scenarios.deadlock import SCENARIO as DEADLOCK


def deadlock_with(**changes: Any) -> dict[str, Any]:
    """Return the deadlock scenario as JSON data, with top-level fields replaced."""
    return {**DEADLOCK.model_dump(mode="json"), **changes}


def error_text(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        Scenario.model_validate(data)
    return str(caught.value)


def test_scenario_reads_back_from_json() -> None:
    data = json.loads(json.dumps(DEADLOCK.model_dump(mode="json")))
    assert Scenario.model_validate(data) == DEADLOCK
    assert data["faults"] == [
        {"kind": "switch", "name": "lock_in_cart_order", "value": True},
        {"kind": "setting", "name": "checkout_lock_pause_ms", "value": 10},
    ]


def test_unknown_comparator_is_refused_naming_the_choices() -> None:
    symptoms = DEADLOCK.model_dump(mode="json")["symptoms"]
    symptoms[0]["comparator"] = "=>"
    message = error_text(deadlock_with(symptoms=symptoms))
    assert "symptoms.0.promql.comparator" in message
    assert "'>', '>=', '<', '<=', '==' or '!='" in message


@pytest.mark.parametrize("name", ["", "Deadlock", "dead lock", "-deadlock", "deadlock-"])
def test_bad_names_are_refused(name: str) -> None:
    assert "name" in error_text(deadlock_with(name=name))


def test_probe_names_must_be_unique() -> None:
    symptoms = DEADLOCK.model_dump(mode="json")["symptoms"]
    message = error_text(deadlock_with(symptoms=[symptoms[0], symptoms[0]]))
    assert "probe names must be unique: postgres_deadlocks" in message


@pytest.mark.parametrize("word", ["deadlock", "lock_in_cart_order", "40P01"])
def test_the_page_must_not_give_the_answer_away(word: str) -> None:
    message = error_text(deadlock_with(page=f"Checkouts fail with {word} errors."))
    assert f"the page gives the answer away: it says {word!r}" in message


def test_a_fix_that_changes_nothing_is_refused() -> None:
    fix = [{"kind": "switch", "name": "lock_in_cart_order", "value": True}]
    assert "the fix changes nothing" in error_text(deadlock_with(fix=fix))


def test_caused_by_fault_marks_symptoms_and_leaves_the_bug_one_of_its_own() -> None:
    dumped = DEADLOCK.model_dump(mode="json")
    slo = [{**dumped["slo"][0], "caused_by_fault": True}, *dumped["slo"][1:]]
    assert "caused_by_fault marks symptoms, not SLO probes: no_deadlocks" in error_text(
        deadlock_with(slo=slo)
    )
    symptoms = [{**s, "caused_by_fault": True} for s in dumped["symptoms"]]
    assert "every symptom is caused_by_fault" in error_text(deadlock_with(symptoms=symptoms))


def test_the_correct_choice_must_be_a_choice() -> None:
    answer = {**DEADLOCK.answer.model_dump(mode="json"), "correct_choice": 9}
    assert "correct_choice 9 is not one of the 4 choices" in error_text(
        deadlock_with(answer=answer)
    )


def test_the_component_is_not_also_a_related_one() -> None:
    answer = {**DEADLOCK.answer.model_dump(mode="json"), "related_components": ["shop"]}
    assert "'shop' is the component, not a related one" in error_text(deadlock_with(answer=answer))


def test_the_component_is_one_a_drill_offers() -> None:
    answer = {**DEADLOCK.answer.model_dump(mode="json"), "component": "kernel"}
    assert "component" in error_text(deadlock_with(answer=answer))


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("", "empty PromQL expression"),
        ("sum(rate(x[10s])", "missing ')'"),
        ("sum(rate(x[10s)))", "unbalanced ')'"),
        ('x{a="b}', 'unclosed "'),
    ],
)
def test_promql_that_cannot_parse_is_refused(expr: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        PromQLProbe(name="p", description="d", expr=expr, comparator=">", threshold=0)


def test_promql_brackets_inside_strings_do_not_count() -> None:
    probe = PromQLProbe(
        name="p", description="d", expr='sum(x{route="/a(b]"})', comparator=">", threshold=0
    )
    assert probe.describe() == 'sum(x{route="/a(b]"}) > 0'


def test_sql_probes_are_one_read_only_query() -> None:
    for sql in ("DELETE FROM products", "SELECT 1; DROP TABLE products"):
        with pytest.raises(ValidationError, match="SQL probe is one"):
            SQLProbe(name="q", description="d", sql=sql, comparator="==", threshold=0)
    probe = SQLProbe(
        name="q",
        description="d",
        sql="WITH a AS (SELECT 1) SELECT * FROM a;",
        comparator="==",
        threshold=1,
    )
    assert probe.holds(1) and not probe.holds(None)


def test_toxics_are_checked_against_the_proxy_kinds() -> None:
    with pytest.raises(ValidationError, match="unknown toxic type 'lag'"):
        Toxic(proxy="postgres", type="lag")
    with pytest.raises(ValidationError, match="latency toxic has no attribute delay"):
        Toxic(proxy="postgres", type="latency", attributes={"delay": 5})
    toxic = Toxic(proxy="postgres", type="latency", attributes={"latency": 100, "jitter": 10})
    assert toxic.toxic_name == "latency_downstream"


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "toxic", "proxy": "mysql", "type": "latency"},
        {"kind": "proxy_down", "proxy": "mysql"},
    ],
)
def test_a_scenario_faults_only_the_stacks_proxies(fault: dict[str, Any]) -> None:
    message = error_text(deadlock_with(faults=[fault]))
    assert "no proxy 'mysql' in the stack; its proxies: postgres, redis, shop" in message
    on_the_stack = Scenario.model_validate(deadlock_with(faults=[{**fault, "proxy": "redis"}]))
    assert on_the_stack.faults[0].proxy == "redis"  # type: ignore[union-attr]


def test_load_profiles_name_known_journeys_and_give_locust_its_options() -> None:
    with pytest.raises(ValidationError, match="unknown journey Tourist"):
        LoadProfile(users=1, spawn_rate=1, duration_s=1, journeys={"Tourist": 1})
    with pytest.raises(ValidationError, match="at least 1"):
        LoadProfile(users=1, spawn_rate=1, duration_s=1, journeys={"Buyer": 0})
    profile = LoadProfile(
        users=8, spawn_rate=4, duration_s=12.5, journeys={"Buyer": 3, "Browser": 1}
    )
    args = profile.locust_args(users=2)
    assert args[:6] == ["--users", "2", "--spawn-rate", "4", "--run-time", "13s"]
    option, weights = args[6].split("=", 1)
    assert option == "--config-users"
    assert json.loads(weights) == [
        {"user_class_name": "Buyer", "weight": 3},
        {"user_class_name": "Browser", "weight": 1},
    ]
    assert args[7:] == ["Buyer", "Browser"]


def test_compare_never_holds_without_a_value() -> None:
    assert compare(1.0, ">", 0) and compare(0.0, "==", 0) and compare(0.5, "<=", 0.5)
    assert not compare(None, "==", 0)
    assert not compare(float("nan"), "!=", 0)


def test_http_probes_check_status_and_latency() -> None:
    probe = HTTPProbe(name="h", description="d", path="/healthz", max_latency_s=0.1)
    assert probe.holds(200, 0.05)
    assert not probe.holds(200, 0.2)
    assert not probe.holds(503, 0.01)
    assert not probe.holds(None, None)
    with pytest.raises(ValidationError):
        HTTPProbe(name="h", description="d", path="/carts", method="POST")


def test_fixed_mode_replaces_faults_with_the_fix() -> None:
    data = deadlock_with(
        faults=[
            {"kind": "switch", "name": "lock_in_cart_order", "value": True},
            {"kind": "setting", "name": "checkout_lock_pause_ms", "value": 20},
        ]
    )
    scenario = Scenario.model_validate(data)
    assert scenario.faults_for(fixed=False) == scenario.faults
    assert scenario.faults_for(fixed=True) == (
        Switch(name="lock_in_cart_order", value=False),  # the fix first, then the faults
        Setting(name="checkout_lock_pause_ms", value=20),
    )


def test_answer_keys_accept_keywords_in_any_case() -> None:
    assert DEADLOCK.answer.accepts("Two checkouts DEADLOCK on product rows")
    assert not DEADLOCK.answer.accepts("the pool is too small")
