"""The tests never use the user's own cache, settings, data or home folders (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from explorer import paths
from explorer.data import named

ROOT = Path(__file__).resolve().parents[1]


def test_folders_are_the_run_s_own(isolation):
    base = isolation.base
    assert base is not None and base.is_dir()
    for folder in (paths.cache_dir(), paths.config_dir(), paths.log_path(), Path.home(), Path("~").expanduser()):
        assert base in folder.parents, folder
    for name, value in isolation.user.items():
        if value:
            assert os.environ.get(name) != value, name
    assert named.DATA_ENV_VAR not in os.environ
    # something written where the application writes lands in the run's folder
    (paths.cache_dir() / "probe").write_text("cache")
    (paths.config_dir() / "probe").write_text("config")
    paths.log_path().write_text("log")


def test_exported_folders_are_not_used(tmp_path):
    """A shell exporting LATENT_EXPLORER_CACHE & co.: a test run leaves those folders untouched."""
    user = {name: tmp_path / name.lower() for name in ("LATENT_EXPLORER_CACHE", "LATENT_EXPLORER_CONFIG",
                                                      "LATENT_EXPLORER_DATA", "HOME", "XDG_CACHE_HOME",
                                                      "XDG_CONFIG_HOME")}
    env = {**os.environ, **{name: str(path) for name, path in user.items()}}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"{Path(__file__).relative_to(ROOT)}::test_folders_are_the_run_s_own"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout, run.stdout
    assert [p for p in user.values() if p.exists()] == []  # not even created
