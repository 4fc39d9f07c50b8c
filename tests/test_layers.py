"""The import contracts of pyproject.toml hold: run `lint-imports` as `make lint` does.

Layers (the scenarios above the tool above the shop, nothing imports upward),
the shop imports nothing of the tool, the embedded proxy nothing else of the
project, and the tool and the scenarios only the shop's public face
(target_app.public).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_every_import_contract_is_kept() -> None:
    """Fail with lint-imports' report when a contract is broken."""
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, f"lint-imports failed ({done.returncode}):\n{report}"
    assert "0 broken" in report, report


def test_the_contracts_cover_the_layers_and_the_public_face() -> None:
    """Check the configuration still names the three packages, the layers and the public face."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert set(config["root_packages"]) == {"target_app", "chaos", "scenarios"}
    kinds = {contract["type"] for contract in config["contracts"]}
    assert kinds == {"layers", "forbidden", "protected"}
    (layers,) = [c for c in config["contracts"] if c["type"] == "layers"]
    assert layers["layers"] == ["scenarios", "chaos", "target_app"]
    (protected,) = [c for c in config["contracts"] if c["type"] == "protected"]
    assert protected["protected_modules"] == ["target_app"]
    assert all(rule.endswith("-> target_app.public") for rule in protected["ignore_imports"])


#: A tiny project with the same three packages: module -> its source.
TOY_PROJECT = {
    "target_app/__init__.py": "",
    "target_app/public.py": "from target_app import internal\n",
    "target_app/internal.py": "",
    "chaos/__init__.py": "",
    "chaos/tool.py": "from target_app.public import internal\n",
    "chaos/proxy/__init__.py": "",
    "chaos/proxy/server.py": "from chaos.proxy import toxics\n",
    "chaos/proxy/toxics.py": "",
    "scenarios/__init__.py": "",
    "scenarios/one.py": "import chaos.tool\nimport target_app.public\n",
}


def _lint_toy(tmp_path: Path, extra: dict[str, str]) -> str:
    """Return lint-imports' report on the toy project with `extra` lines added to modules."""
    for name, source in TOY_PROJECT.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source + extra.get(name, ""))
    config = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(config[config.index("[tool.importlinter]") :])
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": str(LINT_IMPORTS.parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("target_app/internal.py", "import chaos.tool\n", "The shop imports nothing"),
        ("chaos/tool.py", "import scenarios.one\n", "Layers"),
        ("chaos/proxy/server.py", "import chaos.tool\n", "The embedded proxy"),
        ("chaos/tool.py", "from target_app import internal\n", "public face"),
        ("scenarios/one.py", "import target_app.internal\n", "public face"),
    ],
)
def test_the_contracts_catch_a_forbidden_import(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    """Check each kind of forbidden import breaks its contract (on a toy project)."""
    assert "0 broken" in _lint_toy(tmp_path, {}), "the toy project itself must pass"
    report = _lint_toy(tmp_path, {module: line})
    assert _status(report, broken) == "BROKEN", report


def _status(report: str, contract: str) -> str:
    """Return KEPT or BROKEN: the first verdict after the contract's name (names may wrap)."""
    flat = " ".join(report.split())
    verdict = re.search(r"\b(KEPT|BROKEN)\b", flat[flat.index(contract) :])
    assert verdict is not None, report
    return verdict.group(1)
