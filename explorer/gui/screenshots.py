"""Drive the real window and save PNG screenshots of each view (for the README).

Run ``python -m explorer.gui.screenshots OUT_DIR`` under a display (e.g.
``xvfb-run -a -s "-screen 0 1600x1000x24" python -m explorer.gui.screenshots shots``).
It opens the bundled demo (or ``--model``), waits for each job, and writes:

- ``01_window_labels.png``: the whole window, PCA coloured by class, hover preview.
- ``02_embedding_export.png``: File ▸ Export view (PNG, with legend).
- ``03_clusters.png``: k-means (k = 10) on the latent space colouring the points.
- ``04_k_sweep.png``: the clustering panel after a k sweep.
- ``05_selection.png``: a rectangle selection shown in the image grid.
- ``06_latent_dimension.png``: coloured by one latent dimension (colour bar).
- ``07_umap.png`` / ``07_tsne.png``: a UMAP (or t-SNE) embedding (skipped with ``--fast``).
- ``08_gan_prior.png``: a GAN without encoder (only with ``--gan``), two models open.
- ``09_gan_inverted.png``: the same GAN on 1,000 dataset images at their GAN-inverted codes
  (UMAP or t-SNE unless ``--fast``), the hover showing an image beside G(z).
- ``20_sliders.png``: latent sliders (KL order), the slider code as a star on the embedding.
- ``21_traversal.png`` / ``21_traversal_export.png``: the traversal grid dock and its PNG export.
- ``22_interpolation.png``: a slerp path through three points drawn on the embedding, player, filmstrip.
- ``23_talk_mode.png``: talk mode (normally full screen).
- ``30_reconstructions.png``: the Reconstructions dock (originals / reconstructions / JPEG, PSNR, SSIM);
  ``31_reconstructions_panel.png``: the panel alone with dataset means; ``32_rate_distortion.png``:
  PSNR and SSIM against compression ratio, latent code vs JPEG/WebP (``_gan`` suffix: GAN inversion).
- ``40_compare.png``: Compare mode — every open model (with ``--compare`` more are opened) side by side,
  Procrustes-aligned, one image hovered in all with each model's reconstruction;
  ``41_compare_clusters.png``: all coloured by the first model's k-means clusters, a selection linked;
  ``42_compare_interpolation.png``: one interpolation between the same two images in every model;
  ``43_compare_scorecard.png``: the scorecard of the compared models on the same 1,000 images;
  ``44_compare_same_images.png``: the same images through every model and the rate–distortion plot.
  ``--only-compare`` makes just these two.
- ``50_likelihood.png``: the Likelihood dock — IWAE (k up to 100) on 300 images, the digits' histogram
  overlaid (the Histogram tab; the IWAE curve and the least likely images are the other tabs), the
  embedding coloured by −log p(x) (bits/dim).
- ``60_sample_quality.png``, ``61_sample_quality_samples.png``, ``62_memorisation.png``: the Sample-quality
  dock (2,000 samples, bundled classifier, test split, with the floor); ``63_human_test.png``: the human test.
- ``70_disentanglement.png``: the Disentanglement dock (scores, MI heatmap, DCI Hinton diagram, carrier
  traversals) of a dSprites model, fast settings with ``--dis-n`` training points: only with
  ``--only-disentanglement --data dsprites --model CKPT``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def _wait(app, predicate, timeout_s: float, what: str) -> None:
    t0 = time.monotonic()
    while not predicate():
        app.processEvents()
        time.sleep(0.01)
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _settle(app, seconds: float = 0.4) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        app.processEvents()
        time.sleep(0.01)


def _idle(window) -> bool:
    return not window.runner.running_kinds()


def _save(window, out: Path, name: str, app) -> Path:
    window.view.flush()
    _settle(app)
    path = out / name
    if not window.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path}", flush=True)
    return path


def _hover(window, index: int) -> None:
    from PySide6.QtCore import QPointF

    x, y = window.shown_embedding.embedding[index]
    window.view.hover_at(window.view.view_box.mapViewToScene(QPointF(float(x), float(y))))


def _outlier(xy: np.ndarray, quantile: float = 0.8) -> int:
    """Index of a point far out in the cloud (a clear hover target)."""
    d = np.linalg.norm(xy - np.median(xy, axis=0), axis=1)
    return int(np.argsort(d)[int(quantile * (len(d) - 1))])


def _latent_shots(window, out: Path, app) -> None:
    """Latent sliders (marker on the embedding), traversal grid, interpolation path and talk mode."""
    window.slider_dock.raise_()
    window.view.set_selection([17])
    window.slider_panel.selected_button.click()
    window.slider_panel.set_value(window.slider_panel.order()[0], 1.8)
    _save(window, out, "20_sliders.png", app)
    window.slider_panel.traversal_button.click()
    _save(window, out, "21_traversal.png", app)
    window.traversal_view.export(out / "21_traversal_export.png")
    window.interpolation_dock.raise_()
    window.view.set_selection([17, 250, 1234])
    window.interpolation_panel.add_selection_button.click()
    window.interpolation_panel.build()
    window.interpolation_panel.show_frame(20)
    _save(window, out, "22_interpolation.png", app)
    window.latent_controller.start_talk_mode(full_screen=False)
    talk = window.latent_controller.talk_view
    talk.resize(1280, 800)
    talk.set_mode("sliders")
    _settle(app)
    talk.grab().save(str(out / "23_talk_mode.png"))
    print(f"wrote {out / '23_talk_mode.png'}", flush=True)
    talk.leave()
    window.interpolation_panel.clear()
    window.view.clear_selection()
    window.view.set_marker_point(None)
    window.selection_dock.raise_()


def _reconstruction_shots(window, out: Path, app, tag: str = "") -> None:
    """Reconstructions panel: originals / reconstructions / JPEG, dataset means, rate–distortion."""
    dock, panel = window.reconstruction_dock, window.reconstruction_panel
    dock.raise_()
    panel.set_source("random")
    panel.show_images()
    _wait(app, lambda: _idle(window) and panel.result is not None, 300, "reconstructions")
    _save(window, out, f"30_reconstructions{tag}.png", app)
    dock.setFloating(True)  # a roomy copy of the panel alone
    dock.resize(760, 900)
    panel.measure_dataset()
    _wait(app, lambda: _idle(window) and panel.dataset_result is not None, 600, "dataset means")
    panel.tabs.setCurrentIndex(0)
    _settle(app)
    dock.grab().save(str(out / f"31_reconstructions_panel{tag}.png"))
    panel.measure_rate_distortion()
    _wait(app, lambda: _idle(window) and panel.rd_view.rows, 600, "rate–distortion")
    _settle(app)
    dock.grab().save(str(out / f"32_rate_distortion{tag}.png"))
    print(f"wrote {out / f'31_reconstructions_panel{tag}.png'}, {out / f'32_rate_distortion{tag}.png'}", flush=True)
    dock.setFloating(False)
    window.selection_dock.raise_()


def _sample_quality_shots(window, out: Path, app, n_samples: int = 2000) -> None:
    """Sample-quality dock: metrics beside the real-vs-real floor, plots, samples, memorisation; the human test."""
    panel = window.judging.show("SampleQualityDock")
    dock = window.judging.docks["SampleQualityDock"]
    dock.setFloating(True)  # a roomy copy of the panel alone
    dock.resize(1400, 560)
    panel.n_spin.setValue(n_samples)
    panel.compute()
    _wait(app, lambda: _idle(window) and panel.current_images() is not None, 1200, "sample quality")
    for i, name in enumerate(("60_sample_quality.png", "61_sample_quality_samples.png", "62_memorisation.png")):
        panel.tabs.setCurrentIndex(i)
        _settle(app)
        dock.grab().save(str(out / name))
        print(f"wrote {out / name}", flush=True)
    panel.tabs.setCurrentIndex(0)
    test = panel.start_human_test(full_screen=False)
    if test is not None:
        test.resize(1000, 720)
        _settle(app)
        test.grab().save(str(out / "63_human_test.png"))
        print(f"wrote {out / '63_human_test.png'}", flush=True)
        test.close()
    dock.setFloating(False)
    dock.hide()  # the later shots show the window as before
def _likelihood_shots(window, out: Path, app) -> None:
    """Likelihood dock: IWAE on 300 images, the digits overlaid on the histogram, the embedding coloured by it."""
    from PySide6.QtCore import QItemSelectionModel, Qt

    panel = window.judging.show("LikelihoodDock")
    dock = window.judging.docks["LikelihoodDock"]
    window.tabifyDockWidget(window.selection_dock, dock)  # the bottom's whole width
    dock.raise_()
    window.resizeDocks([dock], [340], Qt.Orientation.Vertical)
    panel.estimator.setCurrentIndex(panel.estimator.findData("iwae"))
    panel.k_edit.setText("1, 10, 100")
    panel.n_images.setValue(300)
    panel.estimate()
    _wait(app, lambda: _idle(window) and panel.curve.points.size, 900, "the IWAE estimate")
    panel.estimate_second("digits")
    _wait(app, lambda: _idle(window) and len(panel.histogram.series) > 1, 900, "the digits' likelihood")
    panel.colour_button.click()
    panel.grid.view.selectionModel().select(panel.grid.model.index(0), QItemSelectionModel.SelectionFlag.Select)
    panel.figures.setCurrentWidget(panel.histogram)  # the figures are tabs: show the two datasets' histograms
    _save(window, out, "50_likelihood.png", app)
    dock.hide()


def _compare_shots(window, out: Path, app, extra: list[Path]) -> None:
    """Compare mode: the open models side by side, linked hover, one colouring, a linked selection."""
    s = window.session
    if extra:
        window.open_models(extra)
        _wait(app, lambda: all(m.embedding is not None for m in s.models) and _idle(window), 600,
              "the compared models")
    window.compare_action.setChecked(True)
    _wait(app, lambda: len(window.compare_view.views) == len(s.compare_panels()) > 0, 60, "the Compare view")
    first = window.compare_presenter.panels[0]
    s.set_hovered(int(first.dataset_indices[_outlier(first.embedding, 0.7)]))
    for view in window.compare_view.views:
        view.flush()
    _settle(app, 0.8)
    window.grab().save(str(out / "40_compare.png"))
    ref = s.state(first.key)
    if ref.clustering is None:
        window.run_kmeans("latent", 10, 0)  # of the active model
        _wait(app, lambda: _idle(window) and s.active.clustering is not None, 120, "k-means")
    s.set_compare(colour_key=first.key if ref.clustering is not None else s.active_key)
    s.set_colour("cluster")
    xy = first.embedding
    lo, hi = np.percentile(xy, 20, axis=0), np.percentile(xy, 40, axis=0)
    inside = np.flatnonzero(((xy >= lo) & (xy <= hi)).all(axis=1))
    s.select(first.dataset_indices[inside])
    for view in window.compare_view.views:
        view.flush()
    _settle(app, 0.8)
    window.grab().save(str(out / "41_compare_clusters.png"))
    iv = window.compare_view.interpolation
    window.compare_view.tabs.setCurrentWidget(iv)
    s.select(first.dataset_indices[[int(np.argmin(xy[:, 0])), int(np.argmax(xy[:, 0]))]])
    iv.frames_spin.setValue(24)
    iv.build_button.click()
    iv.slider.setValue(12)
    _settle(app, 0.5)
    window.grab().save(str(out / "42_compare_interpolation.png"))
    sv = window.compare_view.scorecard
    window.compare_view.tabs.setCurrentWidget(sv)
    sv.n_spin.setValue(1000)
    sv.precisions_edit.setText("float32 8bit 4bit")
    sv.compute_button.click()
    _wait(app, lambda: s.scorecard is not None and _idle(window), 900, "the scorecard")
    _settle(app, 0.5)
    window.grab().save(str(out / "43_compare_scorecard.png"))
    si = window.compare_view.same_images
    window.compare_view.tabs.setCurrentWidget(si)
    si.rd_button.click()
    _wait(app, lambda: "rd" in s.scorecard and _idle(window), 900, "the rate–distortion curves")
    _settle(app, 0.5)
    window.grab().save(str(out / "44_compare_same_images.png"))
    window.compare_view.tabs.setCurrentIndex(0)
    print(f"wrote {out / '40_compare.png'}, {out / '41_compare_clusters.png'}, "
          f"{out / '42_compare_interpolation.png'}, {out / '43_compare_scorecard.png'}, "
          f"{out / '44_compare_same_images.png'}", flush=True)
    s.select([])
    s.set_colour("label")
    window.compare_action.setChecked(False)


def _disentanglement_shots(window, out: Path, app, n: int) -> None:
    """The Disentanglement dock of the active model on the open dataset's factors (fast settings, N = ``n``)."""
    panel = window.judging.show("DisentanglementDock")
    dock = window.judging.docks["DisentanglementDock"]
    dock.setFloating(True)  # roomy: the four views side by side in one shot
    dock.resize(1500, 420)
    panel.n_spin.setValue(int(n))
    panel.compute()
    _wait(app, lambda: _idle(window) and panel.evaluation() is not None and panel._kind is None, 1800,
          "the disentanglement scores")
    from PySide6.QtGui import QColor, QImage, QPainter

    _settle(app, 1.0)
    head = dock.grab()  # the settings bar, the status line and the scores tab
    dock.resize(760, 560)  # each figure tab at a readable size, then side by side under the dock
    shots = []
    for i in range(1, panel.tabs.count()):
        panel.tabs.setCurrentIndex(i)
        _settle(app, 0.5)
        shots.append(panel.tabs.grab())
    panel.tabs.setCurrentIndex(0)
    width = max(head.width(), sum(p.width() for p in shots[:2]))
    height = head.height() + shots[0].height() + shots[2].height()
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(240, 240, 240))
    painter = QPainter(image)
    painter.drawPixmap(0, 0, head)
    y = head.height()
    painter.drawPixmap(0, y, shots[0])
    painter.drawPixmap(shots[0].width(), y, shots[1])
    painter.drawPixmap(0, y + shots[0].height(), shots[2])
    painter.end()
    image.save(str(out / "70_disentanglement.png"))
    print(f"wrote {out / '70_disentanglement.png'}", flush=True)
    dock.setFloating(False)


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m explorer.gui.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    parser.add_argument("--model", type=Path, help="checkpoint to show (default: the bundled demo VAE)")
    parser.add_argument("--gan", type=Path, help="a GAN checkpoint without encoder to open as a second model")
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--projection", choices=["umap", "tsne"], default="umap")
    parser.add_argument("--fast", action="store_true", help="skip the UMAP / t-SNE screenshot")
    parser.add_argument("--size", default="1600x980", help="window size WxH (default 1600x980)")
    parser.add_argument("--compare", type=Path, nargs="*", default=[], metavar="CKPT",
                        help="more models to open for the Compare-mode shots (40_, 41_)")
    parser.add_argument("--only-compare", action="store_true", help="make only the Compare-mode shots")
    parser.add_argument("--only-disentanglement", action="store_true",
                        help="make only the Disentanglement shot (70_; with --data dsprites and a dSprites --model)")
    parser.add_argument("--dis-n", type=int, default=2000, help="training points of that shot (default 2,000)")
    parser.add_argument("--user-cache", action="store_true",
                        help="use the user's caches (default: fresh ones, so every job really runs)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    import os
    import tempfile

    from explorer.logs import setup_logging

    setup_logging()  # the user's log file, before the caches move
    # own settings (the default layout) and, unless asked otherwise, fresh caches
    scratch = tempfile.TemporaryDirectory(prefix="latent-explorer-shots-")
    os.environ["LATENT_EXPLORER_CONFIG"] = os.path.join(scratch.name, "config")
    if not args.user_cache:
        os.environ["LATENT_EXPLORER_CACHE"] = os.path.join(scratch.name, "cache")
    from explorer.gui.app import get_application, make_window

    app = get_application()
    window = make_window([args.model] if args.model else [], args.data, args.split, args.limit,
                         warm_up_umap=not args.fast and args.projection == "umap")
    errors: list[str] = []
    window.error_shown.connect(errors.append)
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.move(0, 0)
    try:
        _wait(app, lambda: window.shown_embedding is not None or errors, 300, "the first embedding")
        if errors:
            raise RuntimeError(errors[0])
        _wait(app, lambda: _idle(window), 120, "the start-up jobs")
        if args.only_compare:
            _compare_shots(window, args.out, app, args.compare)
            return 0
        if args.only_disentanglement:
            _disentanglement_shots(window, args.out, app, args.dis_n)
            return 0
        xy = window.shown_embedding.embedding
        _hover(window, _outlier(xy))
        _save(window, args.out, "01_window_labels.png", app)
        window.export_view(args.out / "02_embedding_export.png")
        print(f"wrote {args.out / '02_embedding_export.png'}", flush=True)

        # k-means on the latent space, colouring the points
        window.clustering_dock.raise_()
        panel = window.clustering_panel
        panel.set_space("latent")
        panel.set_k(10)
        window.run_kmeans("latent", 10, 0)
        _wait(app, lambda: _idle(window) and panel.result() is not None, 120, "k-means")
        panel.set_colour_by_cluster(True)
        _hover(window, _outlier(xy, 0.5))
        _save(window, args.out, "03_clusters.png", app)

        window.run_k_sweep("latent", list(range(2, 16)), 0)
        _wait(app, lambda: _idle(window) and panel.sweep_results(), 300, "the k sweep")
        from PySide6.QtWidgets import QScrollArea

        scroll = panel.findChild(QScrollArea)
        if scroll is not None:  # show the sweep curves at the bottom of the panel
            _settle(app, 0.2)
            scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
        _save(window, args.out, "04_k_sweep.png", app)
        if scroll is not None:
            scroll.verticalScrollBar().setValue(0)

        # rectangle selection shown in the grid
        panel.set_colour_by_cluster(False)
        window.projection_dock.raise_()
        window.set_selection_mode("rect")
        lo, hi = np.percentile(xy, 35, axis=0), np.percentile(xy, 55, axis=0)
        window.view.select_rect(lo[0], lo[1], hi[0], hi[1])
        _save(window, args.out, "05_selection.png", app)
        window.view.clear_selection()
        window.set_selection_mode("click")

        window.set_colouring("dimension", 0)
        _save(window, args.out, "06_latent_dimension.png", app)
        window.set_colouring("label")
        _latent_shots(window, args.out, app)
        _reconstruction_shots(window, args.out, app)
        _likelihood_shots(window, args.out, app)
        _sample_quality_shots(window, args.out, app)

        if not args.fast:
            panel_p = window.projection_panel
            panel_p.method_combo.setCurrentIndex(panel_p.method_combo.findData(args.projection))
            spec = panel_p.spec()
            window.request_projection(spec)
            _settle(app, 1.0)
            _save(window, args.out, f"07_{args.projection}_running.png", app)
            _wait(app, lambda: window.shown_embedding.spec == spec and _idle(window), 900, args.projection)
            _hover(window, _outlier(window.shown_embedding.embedding, 0.6))
            _save(window, args.out, f"07_{args.projection}.png", app)

        if args.gan:
            window.open_models([args.gan])
            _wait(app, lambda: window.active_entry is not None and window.active_entry.path == args.gan
                  and window.shown_codes is window.active_entry.codes and window.shown_embedding is not None
                  and _idle(window), 300, "the GAN")
            _hover(window, _outlier(window.shown_embedding.embedding, 0.6))
            _save(window, args.out, "08_gan_prior.png", app)
            window.reconstruction_panel.steps_spin.setValue(100)
            window.projection_panel.gan_box.source_combo.setCurrentIndex(1)
            window.request_gan_points("inverted", 1000)
            _wait(app, lambda: window.shown_codes is not None and window.shown_codes.source == "inverted"
                  and window.shown_embedding is not None and _idle(window), 900, "the inverted GAN codes")
            if not args.fast:  # the projection of the earlier shot, on the inverted codes
                window.request_projection(window.projection_panel.spec())
                _wait(app, lambda: window.shown_embedding.spec == window.projection_panel.spec() and _idle(window),
                      600, "the projection of the inverted codes")
            _wait(app, lambda: _idle(window), 120, "the jobs after the projection")
            _hover(window, _outlier(window.shown_embedding.embedding, 0.6))
            _save(window, args.out, "09_gan_inverted.png", app)
            _reconstruction_shots(window, args.out, app, "_gan")
        _compare_shots(window, args.out, app, args.compare)
        if errors:
            print("errors shown: " + " | ".join(errors), file=sys.stderr)
    finally:
        window.close()
        scratch.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
