"""The catalogue: every module of the `scenarios` package that declares a SCENARIO.

Adding a scenario is adding one module, `scenarios/NAME_WITH_UNDERSCORES.py`,
that sets `SCENARIO = Scenario(name="name-with-hyphens", ...)`.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from pydantic import ValidationError

from chaos.scenarios.model import Scenario, ScenarioError, UnknownScenarioError

PACKAGE = "scenarios"
#: Modules of the package that are not scenarios (the Locust file patches the standard library).
NOT_SCENARIOS = frozenset({"locustfile"})


def _validation_message(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        got = f" (got {error['input']!r})" if error["type"] == "literal_error" else ""
        problems.append(f"{where or 'scenario'}: {error['msg']}{got}")
    return "; ".join(problems)


def _import(package: str, module_name: str) -> ModuleType:
    qualified = f"{package}.{module_name}"
    try:
        return importlib.import_module(qualified)
    except ValidationError as exc:
        raise ScenarioError(f"{qualified} is invalid: {_validation_message(exc)}") from None


def scenario_modules(package: str = PACKAGE) -> list[str]:
    """Return the names of the package's scenario modules, without importing them."""
    pkg = importlib.import_module(package)
    return sorted(
        info.name
        for info in pkgutil.iter_modules(pkg.__path__)
        if not info.name.startswith("_") and info.name not in NOT_SCENARIOS and not info.ispkg
    )


def load_catalogue(package: str = PACKAGE) -> dict[str, Scenario]:
    """Import every scenario module and return their scenarios by name, sorted by name."""
    found: dict[str, tuple[str, Scenario]] = {}
    for module_name in scenario_modules(package):
        module = _import(package, module_name)
        scenario = getattr(module, "SCENARIO", None)
        where = f"{package}.{module_name}"
        if not isinstance(scenario, Scenario):
            raise ScenarioError(f"{where} declares no SCENARIO = Scenario(...)")
        if scenario.name in found:
            raise ScenarioError(
                f"scenario name {scenario.name!r} is declared twice: "
                f"by {found[scenario.name][0]} and by {where}"
            )
        if scenario.name.replace("-", "_") != module_name:
            raise ScenarioError(
                f"{where} declares scenario {scenario.name!r}; name the module "
                f"{scenario.name.replace('-', '_')}.py or the scenario {module_name.replace('_', '-')!r}"
            )
        found[scenario.name] = (where, scenario)
    return {name: found[name][1] for name in sorted(found)}


def get_scenario(name: str, package: str = PACKAGE) -> Scenario:
    """Return one scenario by name; UnknownScenarioError lists the known ones."""
    catalogue = load_catalogue(package)
    try:
        return catalogue[name]
    except KeyError:
        raise UnknownScenarioError(name, list(catalogue)) from None
