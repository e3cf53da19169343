"""The one lock under which job threads import the heavy libraries the first time (`load`).

Two threads entering scikit-learn's (or scipy's) circular imports at the same moment can meet
half-way: one of them gets a partially initialised module ("cannot import name 'clone' from
partially initialized module 'sklearn.base'", seen when a restored k-means started while a
preload ran). Every first import of `HEAVY_PACKAGES` in ``explorer/core`` runs under `LOCK`
instead (``tests/test_lint.py`` checks the imports inside functions); `explorer.core.heavy`
holds the loaders of whole groups.
"""

from __future__ import annotations

import importlib
import threading

__all__ = ["LOCK", "HEAVY_PACKAGES", "load"]

#: Re-entrant: a loader may call another.
LOCK = threading.RLock()

#: The packages whose imports run under `LOCK`.
HEAVY_PACKAGES = ("sklearn", "scipy", "umap", "pynndescent", "numba")


def load(*modules: str) -> None:
    """Import ``modules`` (dotted names, e.g. ``"sklearn.neighbors"``) under `LOCK`.

    Call it in a function before ``from sklearn.neighbors import NearestNeighbors``: that import
    then only reads ``sys.modules``. Once imported, a call costs a dictionary look-up a module
    (and the lock, which a thread importing may hold for 1–2 s the first time).

    Parameters
    ----------
    *modules : str
        Importable dotted module names.

    Raises
    ------
    ImportError
        A module is not installed.
    """
    with LOCK:
        for name in modules:
            importlib.import_module(name)
