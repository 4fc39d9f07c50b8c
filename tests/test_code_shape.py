"""Code shape: no module over 300 lines, no function over 80, outside tests and declarative data.

Scenario definitions (the modules of scenarios/ that set SCENARIO) are declarative
data and are left out; the rest of scenarios/ (the locustfile, _common) is code.
Reads the sources with `ast` only: nothing is imported, no stack is started.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("target_app", "chaos", "scenarios")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 80

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def _is_scenario_definition(path: Path, tree: ast.Module) -> bool:
    """Tell whether a module of scenarios/ is a scenario definition (sets SCENARIO at top level)."""
    if path.parent != ROOT / "scenarios":
        return False
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == "SCENARIO" for t in targets):
            return True
    return False


def _modules() -> Iterator[tuple[Path, str, ast.Module]]:
    """Yield each code module of the packages with its source and syntax tree."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source, filename=str(path))
            if not _is_scenario_definition(path, tree):
                yield path, source, tree


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, FunctionNode]]:
    """Yield every function and method of a tree with its qualified name."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, FunctionNode):
            name = f"{prefix}{node.name}"
            yield name, node
            yield from _functions(node, f"{name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def _offenders() -> tuple[list[str], list[str]]:
    """List the modules and the functions over their limits."""
    long_modules: list[str] = []
    long_functions: list[str] = []
    for path, source, tree in _modules():
        relative = path.relative_to(ROOT)
        lines = len(source.splitlines())
        if lines > MAX_MODULE_LINES:
            long_modules.append(f"{relative}: {lines} lines")
        for name, node in _functions(tree):
            # lineno is the def line (decorators excluded); end_lineno its last line.
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                long_functions.append(f"{relative}:{node.lineno} {name}: {length} lines")
    return long_modules, long_functions


def test_the_walk_finds_the_packages() -> None:
    """Check the walk sees code of every package, and leaves scenario definitions out."""
    seen = {path.relative_to(ROOT).as_posix() for path, _, _ in _modules()}
    for package in PACKAGES:
        assert f"{package}/__init__.py" in seen
    assert "scenarios/locustfile.py" in seen
    assert "scenarios/deadlock.py" not in seen
    assert not any(name.startswith("tests/") for name in seen)


def test_no_module_over_300_lines() -> None:
    """Fail listing every code module over 300 lines."""
    long_modules, _ = _offenders()
    assert not long_modules, "modules over 300 lines:\n" + "\n".join(long_modules)


def test_no_function_over_80_lines() -> None:
    """Fail listing every function or method over 80 lines (def line to last line)."""
    _, long_functions = _offenders()
    assert not long_functions, "functions over 80 lines:\n" + "\n".join(long_functions)
