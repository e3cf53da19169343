"""`latent-explorer bench`: the project's speed figures, printed and written as one JSON object.

Benchmarks are not tests: they print what they measure and never fail on a time.
Each section is a function returning ``{key: figure}``, registered with
`explorer.bench.registry.section` by a module of this package: ``encode``,
``embedding`` (window start-up, cached reopen, paint and hover; needs Qt),
``reconstruction``, ``sliders`` and ``compare_view`` (need Qt), ``compare``, ``sample_quality``,
``umap`` (first fit in a fresh process) and ``inversion`` (GAN inversion, ours vs the method of before).
"""

from __future__ import annotations

import sys
from pathlib import Path

from explorer.bench.registry import SECTIONS, demo_vae, section

__all__ = ["SECTIONS", "section", "demo_vae", "run_bench"]


def run_bench(only: list[str] | None = None, out: Path | None = None) -> dict:
    """Run the registered sections (all, or those named in ``only``), print and save figures.

    Parameters
    ----------
    only : list of str, optional
        Section names to run; unknown names are reported and skipped.
    out : pathlib.Path, optional
        Write the figures here as one JSON object (atomically).

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
            figures = fn()
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


def _load_optional_sections() -> None:
    """Import the section modules, which register their sections (those of the window need Qt)."""
    from explorer.bench import encode  # noqa: F401 - registers "encode"

    try:
        from explorer.bench import embedding  # noqa: F401 - registers "embedding"
    except ImportError as exc:  # e.g. no Qt on a server: say so, run the rest
        print(f"bench: sections of explorer.bench.embedding unavailable ({exc})", file=sys.stderr)
    try:
        from explorer.bench import reconstruction  # noqa: F401 - registers "reconstruction"
    except ImportError as exc:
        print(f"bench: sections of explorer.bench.reconstruction unavailable ({exc})", file=sys.stderr)
    try:
        from explorer.bench import sliders  # noqa: F401 - registers "sliders"
    except ImportError as exc:
        print(f"bench: sections of explorer.bench.sliders unavailable ({exc})", file=sys.stderr)
    try:
        from explorer.bench import compare_view  # noqa: F401 - registers "compare_view"
    except ImportError as exc:
        print(f"bench: sections of explorer.bench.compare_view unavailable ({exc})", file=sys.stderr)
    from explorer.bench import compare  # noqa: F401 - registers "compare"
    try:
        from explorer.bench import sample_quality  # noqa: F401 - registers "sample_quality"
    except ImportError as exc:
        print(f"bench: sections of explorer.bench.sample_quality unavailable ({exc})", file=sys.stderr)
    try:
        from explorer.bench import likelihood  # noqa: F401 - registers "likelihood"
    except ImportError as exc:
        print(f"bench: sections of explorer.bench.likelihood unavailable ({exc})", file=sys.stderr)
    from explorer.bench import (
        disentanglement,  # noqa: F401 - registers "disentanglement"
        inversion,  # noqa: F401 - registers "inversion"
        umap_first,  # noqa: F401 - registers "umap"
    )
