"""The shoppers' journeys: the Locust user classes of the locustfile, read without importing it.

Importing the locustfile would patch the standard library with gevent (Locust
does at import), so its classes are read from its syntax tree: every class that
derives, directly or through classes of the same file, from one of Locust's user
classes and does not declare `abstract = True`.
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


@cache
def journeys_in(path: Path) -> tuple[str, ...]:
    """Return the names of the concrete Locust user classes a locustfile defines, in order."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (OSError, SyntaxError) as exc:
        raise LocustfileError(f"cannot read the Locust file {path}: {exc}") from None
    users: set[str] = set(LOCUST_USERS)
    found = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and users & set(_base_names(node)):
            users.add(node.name)
            if not _is_abstract(node):
                found.append(node.name)
    return tuple(found)


def journeys() -> tuple[str, ...]:
    """Return the journeys a scenario's load may name: the shoppers' Locust user classes."""
    return journeys_in(locustfile())
