"""Lint: `ruff check` is clean on the tree (rules in pyproject.toml, [tool.ruff])."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.lint
def test_ruff_check_is_clean(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "explorer", "models", "tests", "resources"],
        cwd=ROOT, env={**os.environ, "RUFF_CACHE_DIR": str(tmp_path)},  # no .ruff_cache in the tree
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, f"ruff check found problems:\n{run.stdout}{run.stderr}"
