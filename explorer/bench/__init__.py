"""`latent-explorer bench`: the project's speed figures, printed and written as one JSON object.

Benchmarks are not tests: they print what they measure and never fail on a time.
Each section is a function returning ``{key: figure}``, registered with
`explorer.bench.registry.section` by a module of this package: ``encode``,
``embedding`` (window start-up, cached reopen, paint and hover; needs Qt),
``reconstruction``, ``sliders`` and ``compare_view`` (need Qt), ``compare``, ``sample_quality``,
``umap`` (first fit in a fresh process), ``inversion`` (GAN inversion, ours vs the method of before)
and ``device`` (encode, IWAE and inversion on the device of ``bench --device``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from explorer.bench.registry import SECTIONS, demo_vae, section

__all__ = ["SECTIONS", "section", "demo_vae", "run_bench"]


def run_bench(only: list[str] | None = None, out: Path | None = None, device=None) -> dict:
    """Run the registered sections (all, or those named in ``only``), print and save figures.

    Parameters
    ----------
    only : list of str, optional
        Section names to run; unknown names are reported and skipped.
    out : pathlib.Path, optional
        Write the figures here as one JSON object (atomically).
    device : torch.device, optional
        Of ``bench --device``: where the sections registered with ``takes_device`` compute
        (section ``device``); default the CPU.

    Returns
    -------
    dict
        ``{figure name: value}`` of every section that ran; a section that failed is
        reported on stderr with its error and contributes nothing.
    """
    _load_optional_sections()
    names = list(SECTIONS) if not only else only
    results: dict = {}
    for name in names:
        fn = SECTIONS.get(name)
        if fn is None:
            print(f"bench: no section {name!r} (have: {', '.join(SECTIONS)})", file=sys.stderr)
            continue
        print(f"[{name}]", flush=True)
        try:
            figures = fn(device=device) if getattr(fn, "takes_device", False) else fn()
        except Exception as exc:  # noqa: BLE001 - report and go on: one broken section must not hide the others
            print(f"  failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        for k, v in figures.items():
            print(f"  {k} = {v}", flush=True)
        results.update(figures)
    if out is not None:
        from explorer.core.export import write_json

        write_json(out, results)
        print(f"wrote {out}")
    return results


#: The modules of this package that register sections, in the order they run.
SECTION_MODULES = ("encode", "embedding", "reconstruction", "sliders", "compare_view", "compare", "sample_quality",
                   "likelihood", "disentanglement", "inversion", "umap_first")
SECTION_MODULES += ("device",)  # explorer.bench.device: bench --device
SECTION_MODULES += ("info",)  # explorer.bench.info: `latent-explorer info CKPT` in fresh processes


def _load_optional_sections() -> None:
    """Import the section modules, which register their sections (those of the window need Qt).

    A module that cannot be imported (e.g. no Qt on a server) is reported and skipped: the rest run.
    """
    import importlib

    for name in SECTION_MODULES:
        try:
            importlib.import_module(f"explorer.bench.{name}")
        except ImportError as exc:
            print(f"bench: sections of explorer.bench.{name} unavailable ({exc})", file=sys.stderr)
