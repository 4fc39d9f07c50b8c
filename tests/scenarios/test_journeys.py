"""The journeys are read from the locustfile's syntax tree, and from its package's modules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chaos.scenarios.journeys import LocustfileError, journeys_in

BASE = """
from locust import FastHttpUser


class Shopper(FastHttpUser):
    abstract = True


class Walker(Shopper):
    pass


class NotAUser:
    pass
"""

LOCUSTFILE = """
from shoppers._base import Shopper, Walker, NotAUser
from shoppers import _unused
from os.path import join


class Buyer(Shopper):
    pass


class Renamed(Walker):
    pass
"""


def write_package(root: Path, locustfile: str) -> Path:
    package = root / "shoppers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_base.py").write_text(BASE)
    (package / "locustfile.py").write_text(locustfile)
    return package / "locustfile.py"


def test_imported_classes_count_and_are_bases_in_turn(tmp_path: Path) -> None:
    path = write_package(tmp_path, LOCUSTFILE)
    # Shopper is abstract, NotAUser is no user class; Renamed derives from an imported one.
    assert journeys_in(path) == ("Walker", "Buyer", "Renamed")


def test_relative_imports_and_aliases(tmp_path: Path) -> None:
    path = write_package(tmp_path, "from ._base import Walker as Stroller\n")
    assert journeys_in(path) == ("Stroller",)


def test_a_broken_imported_module_is_named(tmp_path: Path) -> None:
    path = write_package(tmp_path, LOCUSTFILE)
    (path.parent / "_base.py").write_text("class Broken(:\n")
    with pytest.raises(LocustfileError, match=r"_base\.py"):
        journeys_in(path)


def test_a_circular_import_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    path = write_package(tmp_path, LOCUSTFILE)
    (path.parent / "_base.py").write_text(BASE + "from shoppers.locustfile import Buyer\n")
    with pytest.raises(LocustfileError, match=re.escape("locustfile.py -> _base.py -> locust")):
        journeys_in(path)
