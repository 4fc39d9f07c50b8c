"""The catalogue: every scenario module of the `scenarios` package, then of the user's folders.

Adding a scenario is adding one module, `NAME_WITH_UNDERSCORES.py`, that sets
`SCENARIO = Scenario(name="name-with-hyphens", ...)`: in `scenarios/`, or in a
folder of your own listed in FAULTYARD_SCENARIOS_PATH (folders separated by
`:`, searched after `scenarios/`). Modules whose names start with `_`, and the
locustfile, are not scenarios. The tool finds the modules by their folder; it
never imports the scenarios package by name.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import pkgutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from pydantic import ValidationError

from chaos.scenarios.model import Scenario, ScenarioError, UnknownScenarioError

PACKAGE = "scenarios"
PATH_ENV = "FAULTYARD_SCENARIOS_PATH"
BUILT_IN = "built-in"
#: Modules of a scenario folder that are not scenarios (the Locust file patches the stdlib).
NOT_SCENARIOS = frozenset({"locustfile"})


@dataclass(frozen=True)
class Folder:
    """A folder of scenario modules: the built-in package's, or one of the user's."""

    path: Path
    #: The importable package the folder is (the built-in one), None for a user's folder.
    package: str | None = None

    def module_names(self) -> list[str]:
        """Return the names of the folder's scenario modules, without importing them."""
        return sorted(
            info.name
            for info in pkgutil.iter_modules([str(self.path)])
            if not info.name.startswith("_") and info.name not in NOT_SCENARIOS and not info.ispkg
        )

    def where(self, module_name: str) -> str:
        """Return how a module of this folder is named in messages."""
        if self.package is not None:
            return f"{self.package}.{module_name}"
        return str(self.path / f"{module_name}.py")


@dataclass(frozen=True)
class Entry:
    """One scenario of the catalogue and where it came from."""

    scenario: Scenario
    where: str
    built_in: bool

    @property
    def source(self) -> str:
        """Return `built-in`, or the module's file for a scenario of the user's own."""
        return BUILT_IN if self.built_in else self.where


def built_in_folder() -> Folder:
    """Return the folder of the `scenarios` package (found, not imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ScenarioError(f"the {PACKAGE} package is not installed: reinstall Faultyard")
    return Folder(Path(next(iter(spec.submodule_search_locations))), PACKAGE)


def user_folders(value: str | None = None) -> list[Folder]:
    """Return the folders of FAULTYARD_SCENARIOS_PATH (or `value`); a missing one is an error."""
    text = os.environ.get(PATH_ENV, "") if value is None else value
    folders = []
    for part in text.split(os.pathsep):
        if not part.strip():
            continue
        path = Path(part).expanduser().resolve()
        if not path.is_dir():
            raise ScenarioError(f"{PATH_ENV} names {part!r}, which is not a folder")
        folders.append(Folder(path))
    return folders


def _validation_message(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        got = f" (got {error['input']!r})" if error["type"] == "literal_error" else ""
        problems.append(f"{where or 'scenario'}: {error['msg']}{got}")
    return "; ".join(problems)


def _import_file(path: Path) -> ModuleType:
    """Import a user's scenario module from its file, once per file and version of it."""
    stat = path.stat()
    digest = hashlib.sha1(f"{path}:{stat.st_mtime_ns}:{stat.st_size}".encode()).hexdigest()[:12]
    name = f"_faultyard_user_scenarios.{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _import(folder: Folder, module_name: str) -> ModuleType:
    try:
        if folder.package is not None:
            return importlib.import_module(f"{folder.package}.{module_name}")
        return _import_file(folder.path / f"{module_name}.py")
    except ValidationError as exc:
        raise ScenarioError(
            f"{folder.where(module_name)} is invalid: {_validation_message(exc)}"
        ) from None


def _entry(folder: Folder, module_name: str) -> Entry:
    where = folder.where(module_name)
    scenario = getattr(_import(folder, module_name), "SCENARIO", None)
    if not isinstance(scenario, Scenario):
        raise ScenarioError(f"{where} declares no SCENARIO = Scenario(...)")
    if scenario.name.replace("-", "_") != module_name:
        raise ScenarioError(
            f"{where} declares scenario {scenario.name!r}; name the module "
            f"{scenario.name.replace('-', '_')}.py or the scenario {module_name.replace('_', '-')!r}"
        )
    return Entry(scenario, where, built_in=folder.package is not None)


def load_entries(folders: list[Folder] | None = None) -> dict[str, Entry]:
    """Import every scenario module of the folders (default: built-in, then the user's)."""
    found: dict[str, Entry] = {}
    for folder in [built_in_folder(), *user_folders()] if folders is None else folders:
        for module_name in folder.module_names():
            entry = _entry(folder, module_name)
            name = entry.scenario.name
            if name in found:
                raise ScenarioError(
                    f"scenario name {name!r} is declared twice: "
                    f"by {found[name].where} and by {entry.where}"
                )
            found[name] = entry
    return {name: found[name] for name in sorted(found)}


def load_catalogue(folders: list[Folder] | None = None) -> dict[str, Scenario]:
    """Return every scenario by name, sorted by name."""
    return {name: entry.scenario for name, entry in load_entries(folders).items()}


def get_scenario(name: str) -> Scenario:
    """Return one scenario by name; UnknownScenarioError lists the known ones."""
    catalogue = load_catalogue()
    try:
        return catalogue[name]
    except KeyError:
        raise UnknownScenarioError(name, list(catalogue)) from None
