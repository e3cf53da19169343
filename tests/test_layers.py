"""House rule: models/, explorer/core and explorer/data never import Qt or pyqtgraph."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT_FREE = [ROOT / "models", ROOT / "explorer" / "core", ROOT / "explorer" / "data"]
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "qtpy", "pyqtgraph", "shiboken6")


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


@pytest.mark.parametrize("path", [p for d in QT_FREE for p in sorted(d.rglob("*.py"))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_no_qt(path):
    bad = [m for m in _imports(path) if m.split(".")[0] in FORBIDDEN]
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


def test_core_data_models_load_without_qt():
    code = ("import sys, pkgutil, importlib, explorer.core, explorer.data, models\n"
            "for pkg in (explorer.core, explorer.data, models):\n"
            "    for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + '.'):\n"
            "        importlib.import_module(m.name)\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
