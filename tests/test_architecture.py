"""The architecture contracts of pyproject.toml ([tool.importlinter]): layers, Qt-free core, no import cycles."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"

import importlinter  # noqa: E402,F401 - in the test extra: the contracts are checked, never skipped


def _config() -> dict:
    return tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]


def _lint(*contracts: str) -> subprocess.CompletedProcess:
    """Run ``lint-imports`` on this checkout (not an installed copy) and return what it printed."""
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    args = [sys.executable, "-c", code, "--no-cache", "--no-logo", str(PYPROJECT)]
    for c in contracts:
        args += ["--contract", c]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize("contract", ["layers", "cli-layers", "qt-free", "acyclic"])
def test_contract_is_kept(contract):
    ids = [c["id"] for c in _config()["contracts"]]
    assert contract in ids, f"pyproject.toml has no import-linter contract {contract!r} (has {ids})"
    out = _lint(contract)
    assert out.returncode == 0, f"import-linter contract {contract!r} is broken:\n{out.stdout}\n{out.stderr}"
    assert "1 kept, 0 broken" in out.stdout


def test_every_contract_of_pyproject_is_checked_here():
    """A contract added to pyproject.toml without an id in the list above would never be run (cli-layers was not)."""
    ids = {c.get("id") for c in _config()["contracts"]}
    assert ids == {"layers", "cli-layers", "qt-free", "acyclic"}


def test_every_top_level_module_of_explorer_has_a_layer():
    """A new module of explorer/ must be placed in the layers contract (else nothing checks it)."""
    import explorer

    layers = next(c for c in _config()["contracts"] if c["id"] == "layers")["layers"]
    named = {m.strip() for layer in layers for m in layer.replace(":", "|").split("|")}
    modules = {f"explorer.{m.name}" for m in pkgutil.iter_modules(explorer.__path__)}
    missing = sorted(modules - named)
    assert missing == [], f"add {missing} to a layer of [tool.importlinter] in pyproject.toml"


def test_no_module_imports_itself_back():
    """Every import counts (also those inside functions): no strongly connected modules in the graph."""
    import grimp

    graph = grimp.build_graph("explorer", "models", cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.find_modules_directly_imported_by(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert cycles == [], "modules that import each other (directly or through others): " + "; ".join(
        " ↔ ".join(c) for c in cycles)
