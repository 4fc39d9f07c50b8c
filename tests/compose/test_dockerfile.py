"""compose/Dockerfile installs the project the way `make setup` does."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "compose" / "Dockerfile").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()


def _pip_installs(text: str) -> list[list[str]]:
    """Return the arguments after `pip install` of every install in a Makefile or Dockerfile."""
    joined = text.replace("\\\n", " ")
    found = []
    for match in re.finditer(r"pip install ([^\n&;]+)", joined):
        words = shlex.split(match.group(1))
        found.append([w for w in words if not w.startswith("--quiet") and "version-check" not in w])
    return found


def _stage(name: str) -> str:
    return DOCKERFILE.split(f" AS {name}\n", 1)[1].split("\nFROM ", 1)[0]


def test_the_project_is_installed_pinned_by_the_same_constraints() -> None:
    setup = [args for args in _pip_installs(MAKEFILE) if "constraints.txt" in args]
    image = [args for args in _pip_installs(_stage("shop")) if "constraints.txt" in args]
    assert setup == [["-c", "constraints.txt", "-e", ".[dev]"]]
    # The same constraints; the project itself, not editable and without the dev extra.
    assert image == [["-c", "constraints.txt", "."]]
    assert ["--upgrade", "pip"] in _pip_installs(MAKEFILE)
    assert ["--upgrade", "pip"] in _pip_installs(_stage("shop"))


def test_the_image_copies_every_package_and_what_the_build_reads() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    copied = {line.split()[1] for line in _stage("shop").splitlines() if line.startswith("COPY ")}
    copied |= {
        word
        for line in _stage("shop").splitlines()
        if line.startswith("COPY ")
        for word in line.split()[1:-1]
    }
    assert set(packages) <= copied
    assert {"pyproject.toml", "constraints.txt", pyproject["project"]["readme"]} <= copied


def test_rq_exporter_is_installed_from_its_own_requirements_as_in_setup() -> None:
    requirements = ["-r", "requirements-rq-exporter.txt"]
    assert requirements in _pip_installs(MAKEFILE)
    image = _pip_installs(_stage("rq-exporter"))
    assert image == [["-r", "/tmp/requirements-rq-exporter.txt"]]
    assert "COPY requirements-rq-exporter.txt /tmp/" in _stage("rq-exporter")


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".venv-rq-exporter", ".faultyard", ".faultyard-*", ".git"} <= set(ignored)
