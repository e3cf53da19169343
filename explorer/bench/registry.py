"""The benchmark's registry: sections register here with `section`; `demo_vae` loads the bundled demo."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["SECTIONS", "section", "demo_vae"]

SECTIONS: dict[str, Callable[[], dict]] = {}


def section(name: str, takes_device: bool = False):
    """Register a benchmark section under ``name``.

    ``takes_device``: the section is called as ``fn(device=...)`` with the `torch.device` of
    ``bench --device`` (the others run on the CPU, called with no argument).
    """
    def deco(fn):
        fn.takes_device = bool(takes_device)
        SECTIONS[name] = fn
        return fn
    return deco


def demo_vae():
    """The bundled demo VAE and the bundled Fashion-MNIST test split, fitted to it."""
    import resources
    from explorer.data import fit_to_model, load_dataset
    from models.loading import load_any

    model, _ = load_any(resources.path("checkpoints", "vae_fashion.pt"))
    ds = fit_to_model(load_dataset("fashion-mnist", split="test", path=resources.path("data", "fashion-mnist")),
                      model.image_shape)
    return model, ds
