"""Benchmark of the Compare view: a hover in one view ringing the same dataset image in all (ms; needs Qt)."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from explorer.bench.registry import section

__all__ = ["linked_hover"]


def linked_hover(n_hovers: int = 300, seed: int = 0) -> dict:
    """Time from a view's hover to the ring on the same image in three 10,000-point views.

    Three encoder models on the bundled Fashion-MNIST test split (10,000 images, PCA): the
    demo VAE, the demo ALI and a copy of the demo VAE under another name (a third model with
    an encoder). The figure is the median over ``n_hovers`` random points of the synchronous
    work — session hover event, the dataset index mapped to each model's point, three rings
    moved — measured around the view's ``hovered`` signal; the reconstructions strip is
    updated later, once the cursor rests (40 ms), and timed separately.

    Returns
    -------
    dict
        ``linked_hover_ms_3x10k`` (goal ≤ 5 ms), ``linked_hover_strip_ms_3x10k`` (the strip:
        one encode/decode per model and its widgets) and ``linked_hover_points``.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import resources
    from explorer.core import embedding as emb
    from explorer.core.projection.cache import ProjectionCache
    from explorer.core.session import Session
    from explorer.gui.app import get_application
    from explorer.gui.compare_view import ComparePresenter, CompareView

    app = get_application()
    scratch = tempfile.mkdtemp(prefix="latent-explorer-bench-compare-")
    try:
        copy = Path(scratch) / "vae_fashion_copy.pt"
        shutil.copyfile(resources.path("checkpoints", "vae_fashion.pt"), copy)
        s = Session(codes_cache=emb.CodesCache(Path(scratch) / "codes"),
                    projection_cache=ProjectionCache(Path(scratch) / "projections"))
        s.run(s.open_dataset(str(resources.path("data", "fashion-mnist")), "test"))
        paths = [resources.path("checkpoints", "vae_fashion.pt"), resources.path("checkpoints", "ali_fashion.pt"),
                 copy]
        s.run_all([t for m in s.add_models(paths) for t in s.open_model_tasks(m)] + s.follow_up())
        s.run_all(s.follow_up())
        view = CompareView(threaded=False)
        view.resize(1200, 700)
        view.show()
        presenter = ComparePresenter(s, view)
        s.set_compare_mode(True)
        app.processEvents()
        views = view.views
        n = len(presenter.panels[0].embedding)
        rng = np.random.default_rng(seed)
        times = []
        for k, point in enumerate(rng.integers(0, n, n_hovers)):
            source = views[k % len(views)]
            t0 = time.perf_counter()
            source.hovered.emit(int(point))
            times.append(time.perf_counter() - t0)
        strip = []
        for point in rng.integers(0, n, 30):
            s.set_hovered(int(point))
            t0 = time.perf_counter()
            presenter.update_strip()
            strip.append(time.perf_counter() - t0)
        presenter.close()
        view.close()
        app.processEvents()
        s.close()
        return {"linked_hover_ms_3x10k": round(1000 * statistics.median(times), 3),
                "linked_hover_strip_ms_3x10k": round(1000 * statistics.median(strip), 2),
                "linked_hover_points": [len(p.embedding) for p in presenter.panels]}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@section("compare_view")
def _compare_view_section() -> dict:
    return linked_hover()


if __name__ == "__main__":
    print(linked_hover())
