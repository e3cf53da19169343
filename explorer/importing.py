"""The one lock under which threads import the heavy libraries the first time (`load`).

Two threads entering scikit-learn's (or scipy's) circular imports at the same moment can meet
half-way: one of them gets a partially initialised module ("cannot import name 'clone' from
partially initialized module 'sklearn.base'", seen when a restored k-means started while a
preload ran). Every import of `HEAVY_PACKAGES` inside a function of ``explorer`` and ``models``
follows a `load` of it instead (``tests/test_architecture.py`` checks them);
`explorer.core.heavy` holds the loaders of whole groups. A leaf module (no imports of ours),
so that ``explorer.data`` can use it too.
"""

from __future__ import annotations

import importlib
import threading

__all__ = ["LOCK", "HEAVY_PACKAGES", "load"]

#: Re-entrant: a loader may call another.
LOCK = threading.RLock()

#: The packages whose imports run under `LOCK` (scikit-image's pull in most of scipy).
HEAVY_PACKAGES = ("sklearn", "scipy", "skimage", "umap", "pynndescent", "numba")

#: The names `load` has imported completely (filled under `LOCK`, after each import returned).
_DONE: set[str] = set()


def load(*modules: str) -> None:
    """Import ``modules`` (dotted names, e.g. ``"sklearn.neighbors"``) under `LOCK`.

    Call it in a function before ``from sklearn.neighbors import NearestNeighbors``: that import
    then only reads ``sys.modules``. Names it imported before return at once, without the lock
    (which a thread importing scikit-learn may hold for 1–2 s the first time): a module's
    presence in ``sys.modules`` is not enough, it is there before its import has finished.

    Parameters
    ----------
    *modules : str
        Importable dotted module names.

    Raises
    ------
    ImportError
        A module is not installed.
    """
    if _DONE.issuperset(modules):
        return
    with LOCK:
        for name in modules:
            if name not in _DONE:
                importlib.import_module(name)
                _DONE.add(name)
