"""The fault kinds: one registry by kind name, one model each, read back from older journals."""

from __future__ import annotations

import time
from typing import Any, Literal

import pytest
from pydantic import ValidationError

import chaos.scenarios.model as scenario_model
from chaos import toxiproxy
from chaos.faults import (
    REGISTRY,
    Deploy,
    FaultKind,
    Index,
    Pause,
    ProcessFault,
    ProxyDown,
    Reload,
    Setting,
    Switch,
    Toxic,
)
from chaos.faults.injector import step_from_dict

#: One step of each kind exactly as an older run wrote it to STATE/scenario-active.json.
OLDER_RUN_STEPS: list[dict[str, Any]] = [
    {
        "kind": "toxic",
        "proxy": "postgres",
        "type": "latency",
        "attributes": {"latency": 100, "jitter": 30},
        "stream": "downstream",
        "toxicity": 1.0,
        "name": None,
    },
    {"kind": "switch", "name": "lock_in_cart_order", "value": True},
    {"kind": "setting", "name": "payment_failure_rate", "value": 0.5},
    {"kind": "process", "service": "redis", "action": "pause"},
    {"kind": "reload", "service": "app"},
    {"kind": "deploy", "service": "worker-2"},
    {"kind": "pause", "seconds": 3.0},
]


def test_every_kind_is_registered_under_its_kind_name() -> None:
    assert {
        "deploy": Deploy,
        "index": Index,
        "pause": Pause,
        "process": ProcessFault,
        "proxy_down": ProxyDown,
        "reload": Reload,
        "setting": Setting,
        "switch": Switch,
        "toxic": Toxic,
    } == REGISTRY
    for name, kind in REGISTRY.items():
        assert kind.model_fields["kind"].default == name
        assert kind.model_config.get("frozen") is True


def test_the_scenario_format_and_the_toxiproxy_client_use_the_fault_kinds() -> None:
    for kind in REGISTRY.values():
        assert getattr(scenario_model, kind.__name__) is kind
    read = toxiproxy.toxic_from_json("pg", {"name": "t", "type": "timeout", "stream": "upstream"})
    assert read == Toxic(proxy="pg", name="t", type="timeout", stream="upstream")


@pytest.mark.parametrize("data", OLDER_RUN_STEPS, ids=lambda d: d["kind"])
def test_steps_an_older_run_wrote_read_back(data: dict[str, Any]) -> None:
    step = step_from_dict(data)
    assert type(step) is REGISTRY[data["kind"]]
    # Same kind values and field names: what an older run wrote is what this one writes.
    written = step.model_dump(mode="json")
    assert {k: v for k, v in written.items() if k in data} == data
    assert step_from_dict(written) == step


def test_an_unknown_kind_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(
        ValueError,
        match="unknown fault kind 'flood'; known: deploy, index, pause, process, proxy_down",
    ):
        step_from_dict({"kind": "flood"})


def test_a_pause_waits_and_leaves_nothing_to_undo() -> None:
    pause = Pause(seconds=0.2)
    started = time.monotonic()
    assert pause.apply(None) == "paused 0.2s"  # type: ignore[arg-type]
    assert time.monotonic() - started >= 0.2
    assert pause.revert(None) == "nothing to undo for a pause"  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Pause(seconds=0)
    with pytest.raises(ValidationError):
        Pause(seconds=61)


def test_kinds_are_frozen_and_refuse_unknown_fields() -> None:
    switch = Switch(name="lock_in_cart_order", value=True)
    with pytest.raises(ValidationError):
        switch.value = False  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Switch(name="lock_in_cart_order", value=True, proxy="shop")  # type: ignore[call-arg]


def test_toxics_are_checked_once_against_the_proxy_kinds() -> None:
    with pytest.raises(ValidationError, match="unknown toxic type 'lag'; known: bandwidth"):
        Toxic(proxy="pg", type="lag")
    with pytest.raises(
        ValidationError, match="latency toxic has no attribute rate; it has: latency"
    ):
        Toxic(proxy="pg", type="latency", attributes={"rate": 5})
    with pytest.raises(ValidationError, match="non-negative"):
        Toxic(proxy="pg", type="latency", attributes={"latency": -1})
    with pytest.raises(ValidationError, match="stream"):
        Toxic(proxy="pg", type="latency", stream="sideways")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("step", "line"),
    [
        (
            Toxic(proxy="postgres", type="latency", attributes={"latency": 5}, toxicity=0.5),
            "toxic latency on proxy postgres (downstream) latency=5 toxicity=0.5",
        ),
        (
            Toxic(proxy="shop", type="timeout", duration_ms=300, toxicity_per="request"),
            "toxic timeout on proxy shop (downstream) per request for 300ms",
        ),
        (ProxyDown(proxy="redis"), "proxy redis down"),
        (Switch(name="lock_in_cart_order", value=False), "switch lock_in_cart_order off (fix)"),
        (Setting(name="payment_failure_rate", value=0.5), "setting payment_failure_rate = 0.5"),
        (ProcessFault(service="redis", action="pause"), "process pause redis"),
        (Reload(service="app"), "reload app gracefully"),
        (Pause(seconds=2.5), "pause 2.5s"),
    ],
)
def test_each_kind_describes_itself_in_one_line(step: FaultKind, line: str) -> None:
    assert step.describe() == line


class _Recorded(FaultKind):
    """A kind of the test's own (never registered): it records what it is asked to do."""

    kind: Literal["recorded"] = "recorded"

    def describe(self) -> str:
        return "recorded"

    def apply(self, ctx: Any) -> str:
        ctx.append("apply")
        return "applied"

    def revert(self, ctx: Any) -> str:
        ctx.append("revert")
        return "reverted"


def test_applied_reverts_however_the_block_ends() -> None:
    calls: list[str] = []
    with pytest.raises(RuntimeError), _Recorded().applied(calls) as done:  # type: ignore[arg-type]
        assert done == "applied"
        raise RuntimeError("the block failed")
    assert calls == ["apply", "revert"]
    assert "recorded" not in REGISTRY


def test_a_kind_must_say_how_to_apply_and_revert() -> None:
    class Incomplete(FaultKind):
        kind: Literal["incomplete"] = "incomplete"

        def describe(self) -> str:
            return "incomplete"

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]
