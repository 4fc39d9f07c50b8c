"""The catalogue: found by module, valid, and consistent with the shop, the proxy and Locust."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chaos.scenarios.catalogue import (
    PATH_ENV,
    Folder,
    built_in_folder,
    get_scenario,
    load_catalogue,
    load_entries,
)
from chaos.scenarios.journeys import journeys
from chaos.scenarios.model import PromQLProbe, ScenarioError, Setting, UnknownScenarioError
from scenarios.locustfile import __file__ as LOCUSTFILE
from target_app.runtime_settings import REGISTRY as RUNTIME_SETTINGS
from target_app.runtime_settings import validate as validate_setting
from target_app.switches import REGISTRY

#: Switches the scenarios use that target_app.switches does not have yet (the report lists them).
#: When one lands in the registry, this test fails until it is removed from here.
PENDING_SWITCHES: set[str] = set()
#: Settings the scenarios change that target_app.runtime_settings does not list yet.
PENDING_SETTINGS: set[str] = set()

CATALOGUE = load_catalogue()


def test_every_scenario_module_is_found_and_nothing_else() -> None:
    """Each module of scenarios/ but the locustfile and `_` helpers is one scenario."""
    folder = built_in_folder()
    modules = sorted(
        p.stem
        for p in folder.path.glob("*.py")
        if not p.stem.startswith("_") and p.stem != "locustfile"
    )
    assert folder.module_names() == modules
    assert [name.replace("-", "_") for name in CATALOGUE] == modules
    assert all(entry.built_in for entry in load_entries().values())


def test_every_scenario_serialises_to_json() -> None:
    for scenario in CATALOGUE.values():
        text = json.dumps(scenario.model_dump(mode="json"))
        assert type(scenario).model_validate_json(text) == scenario


def test_root_causes_are_unique() -> None:
    causes = [s.answer.root_cause for s in CATALOGUE.values()]
    assert len(causes) == len(set(causes))


def test_every_switch_exists_or_is_pending() -> None:
    used = set().union(*(s.switches for s in CATALOGUE.values()))
    assert used - set(REGISTRY) == PENDING_SWITCHES
    assert not PENDING_SWITCHES & set(REGISTRY), "a pending switch exists now: drop it from the set"


def test_every_setting_may_change_at_runtime_or_is_pending() -> None:
    used = set().union(*(s.settings for s in CATALOGUE.values()))
    assert used - set(RUNTIME_SETTINGS) == PENDING_SETTINGS
    assert not PENDING_SETTINGS & set(RUNTIME_SETTINGS), "drop the landed setting"


def test_every_setting_value_is_valid() -> None:
    for scenario in CATALOGUE.values():
        for step in (*scenario.faults, *scenario.fix):
            if isinstance(step, Setting):
                validate_setting(step.name, step.value)  # raises if the shop would refuse it


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (make setup)")
def test_every_promql_expression_parses(tmp_path: Path) -> None:
    """promtool parses each expression as a recording rule, with Prometheus's own parser."""
    rules = [
        {"record": f"faultyard:{name.replace('-', '_')}:{i}", "expr": expr}
        for name, scenario in CATALOGUE.items()
        for i, expr in enumerate(
            [p.expr for p in (*scenario.symptoms, *scenario.slo) if isinstance(p, PromQLProbe)]
            + [s.expr for s in scenario.key_series]
        )
    ]
    path = tmp_path / "probes.yml"
    path.write_text(json.dumps({"groups": [{"name": "scenarios", "rules": rules}]}))
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_the_journeys_are_the_locust_user_classes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    listed = {line.strip() for line in result.stdout.splitlines()[1:] if line.strip()}
    assert listed == set(journeys())


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownScenarioError) as caught:
        get_scenario("dedlock")
    assert str(caught.value) == f"unknown scenario 'dedlock'; known: {', '.join(CATALOGUE)}"


def write_folder(root: Path, modules: dict[str, str]) -> Folder:
    """Write scenario modules into a new folder of the user's; return it."""
    root.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return Folder(root)


COPY_OF_DEADLOCK = "from scenarios.deadlock import SCENARIO\n"

#: A scenario that needs no new shop code (a toxic on the Redis link), kept outside scenarios/.
SLOW_REDIS = (Path(__file__).with_name("user_scenarios") / "slow_redis.py").read_text()


def test_a_scenario_of_the_users_own_is_one_module_in_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_folder(tmp_path / "mine", {"slow_redis": SLOW_REDIS, "_helpers": "X = 1\n"})
    monkeypatch.setenv(PATH_ENV, f":{folder.path}:")  # empty parts are skipped
    entries = load_entries()
    assert list(entries) == sorted([*CATALOGUE, "slow-redis"])
    mine = entries["slow-redis"]
    assert not mine.built_in and mine.source == str(folder.path / "slow_redis.py")
    assert get_scenario("slow-redis").faults[0].describe() == (
        "toxic latency on proxy redis (downstream) latency=20"
    )
    # Loaded twice (as every command does), it is the same scenario, not a clash.
    assert load_catalogue()["slow-redis"] == mine.scenario


def test_a_missing_folder_in_the_path_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PATH_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(
        ScenarioError, match=rf"{PATH_ENV} names '.*nowhere', which is not a folder"
    ):
        load_catalogue()


def test_a_name_declared_twice_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_folder(tmp_path / "twice", {"deadlock": COPY_OF_DEADLOCK})
    monkeypatch.setenv(PATH_ENV, str(folder.path))
    with pytest.raises(
        ScenarioError,
        match=rf"'deadlock' is declared twice: by scenarios.deadlock and by {folder.path}/deadlock.py",
    ):
        load_catalogue()


def test_a_module_named_unlike_its_scenario_is_an_error(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "misnamed", {"dead_lock": COPY_OF_DEADLOCK})
    with pytest.raises(
        ScenarioError, match=r"name the module deadlock\.py or the scenario 'dead-lock'"
    ):
        load_catalogue([folder])


def test_a_module_without_a_scenario_is_an_error(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "empty", {"nothing": "X = 1\n", "_helpers": "Y = 2\n"})
    with pytest.raises(ScenarioError, match=r"empty/nothing.py declares no SCENARIO"):
        load_catalogue([folder])


def test_an_invalid_scenario_module_names_itself_and_the_field(tmp_path: Path) -> None:
    source = """
        from chaos.scenarios.model import Scenario
        from scenarios.deadlock import SCENARIO as base

        data = base.model_dump(mode="json")
        data["symptoms"][0]["comparator"] = "=>"
        SCENARIO = Scenario.model_validate(data)
    """
    folder = write_folder(tmp_path / "broken", {"deadlock": source})
    with pytest.raises(ScenarioError) as caught:
        load_catalogue([folder])
    assert str(caught.value).startswith(
        f"{folder.path}/deadlock.py is invalid: symptoms.0.promql.comparator: Input should be"
    )
    assert "(got '=>')" in str(caught.value)
