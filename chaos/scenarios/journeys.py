"""The shoppers' journeys: the Locust user classes of the locustfile, read without importing it.

Importing the locustfile would patch the standard library with gevent (Locust
does at import), so its classes are read from its syntax tree: every class that
derives, directly or through other such classes, from one of Locust's user
classes and does not declare `abstract = True`, defined in the file or imported
into it from a module of its own package (whose syntax tree is read the same way).
"""

from __future__ import annotations

import ast
import importlib.util
from functools import cache
from pathlib import Path

from chaos.errors import FaultyardError

#: Locust's own user classes a journey may derive from.
LOCUST_USERS = frozenset({"User", "HttpUser", "FastHttpUser"})


class LocustfileError(FaultyardError):
    """The locustfile cannot be found or read."""


def locustfile() -> Path:
    """Return the shoppers' Locust file, found beside the scenarios (never imported here)."""
    spec = importlib.util.find_spec("scenarios")
    if spec is None or spec.origin is None:
        raise LocustfileError("the scenarios package is not installed: no Locust file to run")
    return Path(spec.origin).with_name("locustfile.py")


def _base_names(node: ast.ClassDef) -> list[str]:
    names = []
    for base in node.bases:
        if isinstance(base, ast.Name):
            names.append(base.id)
        elif isinstance(base, ast.Attribute):
            names.append(base.attr)
    return names


def _is_abstract(node: ast.ClassDef) -> bool:
    for statement in node.body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "abstract" for t in statement.targets
        ):
            return isinstance(statement.value, ast.Constant) and statement.value.value is True
    return False


def _imported_module(node: ast.ImportFrom, path: Path) -> Path | None:
    """Return the file of a module the locustfile imports from its own package, if it is one."""
    package = path.parent
    if node.level == 1 and node.module:
        return package / f"{node.module.replace('.', '/')}.py"
    if node.level == 0 and node.module and node.module.startswith(f"{package.name}."):
        return package / f"{node.module.removeprefix(package.name + '.').replace('.', '/')}.py"
    return None


@cache
def user_classes_in(path: Path) -> tuple[tuple[str, bool], ...]:
    """Return the Locust user classes a file defines or imports from its package, in order.

    Each is (name, abstract). A class counts if it derives, directly or through
    such classes, from one of Locust's user classes; Locust runs the concrete
    ones it finds in a locustfile's namespace, imported ones included. Only
    `from package.module import Name` (or `from .module import Name`) is
    followed; a circular import is refused, as Python would fail on it.
    """
    return _user_classes(path, reading=())


def _user_classes(path: Path, *, reading: tuple[Path, ...]) -> tuple[tuple[str, bool], ...]:
    if path in reading:
        chain = " -> ".join(p.name for p in (*reading, path))
        raise LocustfileError(f"the Locust file imports itself in a circle: {chain}")
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (OSError, SyntaxError) as exc:
        raise LocustfileError(f"cannot read the Locust file {path}: {exc}") from None
    users: set[str] = set(LOCUST_USERS)
    found: list[tuple[str, bool]] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (module := _imported_module(node, path)):
            theirs = (
                dict(_user_classes(module, reading=(*reading, path))) if module.is_file() else {}
            )
            for alias in node.names:
                if alias.name in theirs:
                    users.add(alias.asname or alias.name)
                    found.append((alias.asname or alias.name, theirs[alias.name]))
        elif isinstance(node, ast.ClassDef) and users & set(_base_names(node)):
            users.add(node.name)
            found.append((node.name, _is_abstract(node)))
    return tuple(found)


def journeys_in(path: Path) -> tuple[str, ...]:
    """Return the names of the concrete Locust user classes a locustfile runs, in order."""
    return tuple(name for name, abstract in user_classes_in(path) if not abstract)


def journeys() -> tuple[str, ...]:
    """Return the journeys a scenario's load may name: the shoppers' Locust user classes."""
    return journeys_in(locustfile())
