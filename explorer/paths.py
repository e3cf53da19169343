"""Where Latent Explorer keeps its cache, settings and log file."""

from __future__ import annotations

import os
from pathlib import Path

from explorer.errors import FolderError

#: The bundled demo checkpoint, relative to ``resources/`` (the window opens it when given no model).
DEMO_CHECKPOINT = ("checkpoints", "vae_fashion.pt")


def _made(d: Path, variable: str, what: str) -> Path:
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = "it or a folder above it is a file" if isinstance(exc, (FileExistsError, NotADirectoryError)) \
            else (exc.strerror or str(exc)).lower()
        raise FolderError(f"the {what} folder '{d}' cannot be made: {reason}; set {variable} to a folder "
                          "that can be written.") from exc
    return d


def cache_dir() -> Path:
    """Folder for caches (projections, encoded codes): ``$LATENT_EXPLORER_CACHE`` or
    ``~/.cache/latent-explorer``; created on first use.

    Raises
    ------
    explorer.errors.FolderError
        It cannot be made (an `OSError` and a `UserError`: one sentence).
    """
    return _made(Path(os.environ.get("LATENT_EXPLORER_CACHE") or Path.home() / ".cache" / "latent-explorer"),
                 "LATENT_EXPLORER_CACHE", "cache")


def config_dir() -> Path:
    """Folder for settings: ``$LATENT_EXPLORER_CONFIG`` or ``~/.config/latent-explorer``.

    Raises
    ------
    explorer.errors.FolderError
        It cannot be made (an `OSError` and a `UserError`: one sentence).
    """
    return _made(Path(os.environ.get("LATENT_EXPLORER_CONFIG") or Path.home() / ".config" / "latent-explorer"),
                 "LATENT_EXPLORER_CONFIG", "settings")


def log_path() -> Path:
    """The log file that receives tracebacks the user is spared (``cache_dir()/latent-explorer.log``)."""
    return cache_dir() / "latent-explorer.log"


def resolved(path: str | os.PathLike) -> Path:
    """``Path(path).expanduser().resolve()``, or its absolute form when it cannot be resolved (a loop of links).

    Where a path only names an entry (a model list key, a recent-files list), a symbolic-link loop
    must not raise: opening the file then says what is wrong with it in one sentence.
    """
    p = Path(path).expanduser()
    try:
        return p.resolve()
    except (RuntimeError, OSError):  # "Symlink loop from …" (Python 3.11), ELOOP (3.13)
        return Path(os.path.abspath(p))
