"""Bundled data of Latent Explorer: demo dataset, demo checkpoints, icons, provenance files."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent


def path(*parts: str) -> Path:
    """Return the path of a bundled resource.

    Parameters
    ----------
    *parts : str
        Path components below ``resources/``, e.g. ``("checkpoints", "vae_fashion.pt")``.

    Returns
    -------
    pathlib.Path
        Absolute path inside the installed ``resources`` package; it may not exist.
    """
    return ROOT.joinpath(*parts)
