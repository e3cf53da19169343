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


_LOADERS = {"load", "load_sklearn", "load_estimators", "load_umap"}


def _heavy_module(stmt, packages) -> str | None:
    import ast

    if isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module.split(".")[0] in packages:
        return stmt.module
    if isinstance(stmt, ast.Import):
        return next((a.name for a in stmt.names if a.name.split(".")[0] in packages), None)
    return None


def _is_loader_call(stmt) -> bool:
    import ast

    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    func = stmt.value.func
    return (func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)) in _LOADERS


def _unguarded_imports(tree, packages) -> list[int]:
    """Lines of imports of ``packages`` inside a function not directly after a loader call (or a guarded import)."""
    import ast

    found = []

    def visit(body, in_function):
        guarded = False
        for stmt in body:
            module = _heavy_module(stmt, packages)
            if module is not None and in_function and not guarded:
                found.append(stmt.lineno)
            guarded = _is_loader_call(stmt) or (module is not None and in_function)
            inner = in_function or isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
            for field in ("body", "orelse", "finalbody"):
                sub = getattr(stmt, field, None)
                if isinstance(sub, list) and sub and isinstance(sub[0], ast.stmt):
                    visit(sub, inner)
            for handler in getattr(stmt, "handlers", []):
                visit(handler.body, inner)
            for case in getattr(stmt, "cases", []):
                visit(case.body, inner)

    visit(tree.body, False)
    return found


def test_heavy_libraries_are_imported_under_the_one_lock_in_functions_of_the_core():
    """Two threads in scikit-learn's circular imports at once fail (explorer.core.importing): every import of a
    heavy package inside a function of explorer/core follows ``load(...)`` (or another loader) directly."""
    import ast

    from explorer.core.importing import HEAVY_PACKAGES

    bad = []
    for path in sorted((ROOT / "explorer" / "core").rglob("*.py")):
        if path.name in ("importing.py", "heavy.py"):
            continue
        lines = _unguarded_imports(ast.parse(path.read_text(), str(path)), HEAVY_PACKAGES)
        bad += [f"{path.relative_to(ROOT)}:{line}" for line in lines]
    assert bad == [], "imports of heavy packages without load(...) just before: " + ", ".join(bad)
    # the checker itself finds what it must
    sample = ast.parse("def f():\n    x = 1\n    from sklearn.svm import SVC\n"
                       "def g():\n    load('sklearn.svm')\n    from sklearn.svm import SVC\n    import scipy.stats\n"
                       "def h():\n    if x:\n        import umap\n    from numpy import pi\n")
    assert _unguarded_imports(sample, HEAVY_PACKAGES) == [3, 10]


def test_load_imports_under_the_lock_and_names_what_is_missing(tmp_path, monkeypatch):
    from explorer.core import importing

    # a module whose import asks, from another thread, whether the lock is free at that moment
    (tmp_path / "lock_probe_module.py").write_text(
        "import threading\nfrom explorer.core.importing import LOCK\nfree = []\n"
        "def probe():\n    got = LOCK.acquire(blocking=False)\n    free.append(got)\n"
        "    if got:\n        LOCK.release()\n"
        "t = threading.Thread(target=probe)\nt.start()\nt.join()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importing.load("json", "lock_probe_module")
    assert sys.modules["lock_probe_module"].free == [False]  # held while the module ran
    del sys.modules["lock_probe_module"]
    with pytest.raises(ImportError, match="no_such_module_xyz"):
        importing.load("no_such_module_xyz")
    assert importing.LOCK.acquire(blocking=False)  # released again after the error
    importing.LOCK.release()
