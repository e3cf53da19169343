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


#: What each loader imports: an import inside a function is covered by the loader call just before it.
_LOADERS = {"load_sklearn": ("sklearn.cluster", "sklearn.metrics"), "load_estimators": ("sklearn.decomposition",),
            "load_umap": ("umap",)}


def _heavy_modules(stmt, packages) -> list[str]:
    import ast

    if isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module.split(".")[0] in packages:
        return [stmt.module]
    if isinstance(stmt, ast.Import):
        return [a.name for a in stmt.names if a.name.split(".")[0] in packages]
    return []


def _loaded_by(stmt) -> tuple[str, ...] | None:
    """The modules a loader call statement imports (``load("a", "b")``: its literal names), else None."""
    import ast

    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return None
    func = stmt.value.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if name == "load":
        return tuple(a.value for a in stmt.value.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return _LOADERS.get(name)


def _unguarded_imports(tree, packages) -> list[int]:
    """Lines of imports of ``packages`` inside a function that the loader call just before (a run of imports
    may follow it) does not import: the module itself or a package above it must be among its names."""
    import ast

    found = []

    def visit(body, in_function):
        covered: tuple[str, ...] = ()
        for stmt in body:
            modules = _heavy_modules(stmt, packages)
            if modules and in_function:
                if any(not any(m == c or m.startswith(c + ".") for c in covered) for m in modules):
                    found.append(stmt.lineno)
            elif not (isinstance(stmt, (ast.Import, ast.ImportFrom)) and covered):
                covered = _loaded_by(stmt) or ()
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


def _sources():
    for top in ("explorer", "models"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.name not in ("importing.py", "heavy.py"):
                yield path


def test_heavy_libraries_are_imported_under_the_one_lock_in_functions():
    """Two threads in scikit-learn's circular imports at once fail (explorer.importing): every import of a heavy
    package inside a function follows a ``load(...)`` of it (or of a package above it) directly."""
    import ast

    from explorer.importing import HEAVY_PACKAGES

    bad = []
    for path in _sources():
        lines = _unguarded_imports(ast.parse(path.read_text(), str(path)), HEAVY_PACKAGES)
        bad += [f"{path.relative_to(ROOT)}:{line}" for line in lines]
    assert bad == [], "imports of heavy packages without a load(...) of them just before: " + ", ".join(bad)
    # the checker itself finds what it must
    sample = ast.parse("def f():\n    x = 1\n    from sklearn.svm import SVC\n"
                       "def g():\n    load('sklearn.svm')\n    from sklearn.svm import SVC\n    import scipy.stats\n"
                       "def h():\n    if x:\n        import umap\n    from numpy import pi\n"
                       "def k():\n    load('sklearn', 'scipy.stats')\n    from sklearn.metrics import f\n"
                       "    from scipy.stats import t\n    y = 2\n    from scipy.stats import u\n")
    assert _unguarded_imports(sample, HEAVY_PACKAGES) == [3, 7, 10, 17]


def test_every_module_named_to_load_exists():
    """A misspelt ``load("...")`` would raise ImportError only when its function first runs."""
    import ast
    import importlib.util

    names = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Expr):
                names.update(_loaded_by(node) or ())
    assert len(names) > 15
    missing = sorted(n for n in names if importlib.util.find_spec(n) is None)
    assert missing == []


def test_load_imports_under_the_lock_and_names_what_is_missing(tmp_path, monkeypatch):
    from explorer import importing

    # a module whose import asks, from another thread, whether the lock is free at that moment
    (tmp_path / "lock_probe_module.py").write_text(
        "import threading\nfrom explorer.importing import LOCK\nfree = []\n"
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
    # what it imported before needs no lock: the GUI thread does not wait for a job's first import
    import threading

    held, done = threading.Event(), threading.Event()

    def hold():
        with importing.LOCK:
            held.set()
            done.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert held.wait(30)
        loader = threading.Thread(target=importing.load, args=("json",))
        loader.start()
        loader.join(10)  # without the fast path it waits for the holder (30 s)
        assert not loader.is_alive()
    finally:
        done.set()
        t.join()
