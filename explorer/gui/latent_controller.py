"""Wires the slider, traversal and interpolation docks to the session (slider code and keypoints live there)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence

from explorer.core.latent import sliders as core
from explorer.core.session import Keypoint, Session

__all__ = ["LatentController", "point_label"]


def point_label(codes, i: int) -> str:
    """Keypoint name of point ``i``: its dataset image (saying when z is inverted), or the prior sample."""
    if codes is None or not codes.of_dataset:
        return f"point #{i}"
    d = int(codes.dataset_indices([i])[0])
    return f"image #{d}" + (" (inverted z)" if codes.source == "inverted" else "")


class LatentController:
    """Thin glue between the session and the slider, traversal and interpolation panels.

    - the active model or its codes change → the panels get the model, its codes and
      dimension scores (KL per dimension in nats for a VAE, computed as a job; else the
      codes' variance), and the session's slider code and keypoints of that model;
    - the slider code and the keypoints the user makes go into the session;
    - the slider code → a star on the embedding (PCA exact; UMAP by umap-learn's transform
      in the projection worker, as a job; t-SNE and cached embeddings without a transform:
      the nearest data point, labelled "nearest neighbour");
    - the interpolation path → a polyline on the embedding, the player's frame → the star.

    Parameters
    ----------
    session : Session
    runner : explorer.gui.session_runner.SessionRunner
    presenter : explorer.gui.embedding_presenter.EmbeddingPresenter
        What the embedding shows (its points, codes and view).
    slider_panel, traversal_view, interpolation_panel : the three panels.
    window : QWidget
        Owner of the talk-mode action and view.
    traversal_dock : QDockWidget, optional
        Raised when a traversal is rendered.
    """

    MARKER_DELAY_MS = 30
    PLACE_RETRY_S = 3.0

    def __init__(self, session: Session, runner, presenter, slider_panel, traversal_view, interpolation_panel,
                 window, traversal_dock=None) -> None:
        self.session, self.runner, self.presenter = session, runner, presenter
        self.view = presenter.view
        self.window = window
        self.sliders, self.traversal, self.interp = slider_panel, traversal_view, interpolation_panel
        self.traversal_dock = traversal_dock
        traversal_view.export_runner = interpolation_panel.export_runner = runner  # movies and grids as jobs
        self._model = None
        self._codes = None
        self._key = None
        self._restoring = False
        self._placers: dict[int, tuple] = {}
        self._pending_marker = None
        self._marker_timer = QTimer(window)
        self._marker_timer.setSingleShot(True)
        self._marker_timer.timeout.connect(self._on_marker_timeout)
        for signal in (session.active_changed, session.models_changed, session.codes_changed):
            signal.connect(lambda *_a: self._sync())
        session.selection_changed.connect(self._on_selection_changed)
        session.settings_changed.connect(self._on_settings_changed)
        presenter.embedding_shown.connect(self._on_embedding_shown)
        slider_panel.code_changed.connect(self._on_code_changed)
        slider_panel.from_selection_requested.connect(self._on_from_selection)
        slider_panel.traversal_requested.connect(self._on_traversal_requested)
        interpolation_panel.add_selection_requested.connect(self._on_add_selection)
        interpolation_panel.add_slider_code_requested.connect(
            lambda: self.interp.add_keypoint(self.sliders.code(), "slider code"))
        interpolation_panel.keypoints_changed.connect(self._on_keypoints_changed)
        interpolation_panel.settings_changed.connect(
            lambda: session.update_settings("interpolation", **self.interp.settings()))
        for w in (traversal_view.rows_spin, traversal_view.cols_spin, traversal_view.scale_spin):
            w.valueChanged.connect(lambda _v: session.update_settings("traversal", **self.traversal.settings()))
        traversal_view.dims_edit.editingFinished.connect(
            lambda: session.update_settings("traversal", **self.traversal.settings()))
        traversal_view.upscale_combo.currentIndexChanged.connect(
            lambda _i: session.update_settings("traversal", **self.traversal.settings()))
        interpolation_panel.path_changed.connect(self._on_path_changed)
        interpolation_panel.frame_changed.connect(self._on_frame_changed)
        slider_panel.talk_requested.connect(lambda: self.start_talk_mode())
        box = slider_panel.directions  # sliders along GANSpace / SeFa / attribute directions
        box.compute_requested.connect(self._on_directions_requested)
        box.cleared.connect(self._on_directions_cleared)
        box.offset_changed.connect(self._on_direction_offset)
        box.store_requested.connect(self._on_store_attribute_set)  # "selection A − selection B"
        session.directions_changed.connect(self._on_directions_changed)
        session.slider_code_changed.connect(self._on_session_slider_code)  # set by a core function, a restore …
        session.dataset_changed.connect(self._fill_direction_groups)
        self.talk_view = None
        talk = QAction("Talk mode", window)
        talk.setShortcut(QKeySequence(Qt.Key.Key_F11))
        talk.triggered.connect(lambda: self.start_talk_mode())
        window.addAction(talk)
        self.talk_action = talk

    def start_talk_mode(self, full_screen: bool = True) -> None:
        """Open talk mode (full screen) over the slider and interpolation panels."""
        from explorer.gui.talk_mode import TalkModeView

        if self._model is None:
            return
        if self.talk_view is None:
            self.talk_view = TalkModeView(self.sliders, self.interp, self.window)
        self.talk_view.start(full_screen=full_screen)

    # -- model and codes

    def _sync(self) -> None:
        m = self.session.active
        model = m.model if m is not None else None
        shown = m.codes if m is not None else None
        codes = shown.z if shown is not None and model is not None and shown.z.shape[1] == model.latent_dim else None
        if model is self._model and codes is self._codes:
            return
        model_changed = model is not self._model
        self._model, self._codes, self._key = model, codes, (m.key if m is not None else None)
        self._restoring = True
        try:
            self.sliders.set_model(model, codes)
            if model_changed:
                self.interp.set_model(model)
                self.interp.apply_settings(self.session.settings.get("interpolation", {}))
                for kp in (m.keypoints if m is not None and model is not None else []):
                    self.interp.add_keypoint(kp.z, kp.label, kp.dataset_index)
            if m is not None and m.slider_code is not None and model is not None \
                    and m.slider_code.shape == (model.latent_dim,):
                self.sliders.set_code(m.slider_code, as_base=False)
        finally:
            self._restoring = False
        self._update_traversal_source()
        self._fill_direction_groups()
        if model is not None and shown is not None and shown.source == "encoder" \
                and callable(getattr(model, "posterior", None)):
            images = shown.images
            ds = self.session.dataset
            resize = ds.resize if ds is not None else None

            def kl(ctx):
                if tuple(images.shape[1:]) != tuple(model.image_shape):  # the dataset as the model sees it
                    from explorer.data import DEFAULT_RESIZE, Dataset, fit_to_model

                    fitted = fit_to_model(Dataset(images=images, resize=resize or DEFAULT_RESIZE), model.image_shape)
                    return core.dimension_scores(model, images=fitted.images, ctx=ctx)
                return core.dimension_scores(model, images=images, ctx=ctx)

            self.runner.submit_job("slider-scores", kl, label="KL per latent dimension",
                                   on_done=lambda s, mo=model: self._on_scores(mo, s))

    def _on_scores(self, model, scores) -> None:
        if model is self._model:
            self.sliders.set_scores(scores)
            self._update_traversal_source()

    def _update_traversal_source(self) -> None:
        if self._model is None:
            self.traversal.set_source(None, None, None)
        else:
            from explorer.core.session.directions import directions_of

            choice = directions_of(self.session, self._key) if self._key is not None else None
            self.traversal.set_source(self._model, self.sliders.code(), self.sliders.ranges(), self.sliders.scores,
                                      directions=None if choice is None else choice.directions)

    # -- directions (GANSpace, SeFa, attribute vectors)

    def _fill_direction_groups(self) -> None:
        from explorer.core.session.directions import directions_of

        ds = self.session.dataset
        classes = list(ds.class_names or []) if ds is not None and ds.labels is not None else []
        if ds is not None and ds.labels is not None and not classes:
            classes = [str(c) for c in range(int(np.max(ds.labels)) + 1)]
        factors, sizes, values = [], [], []
        if ds is not None and ds.factors is not None:
            from explorer.data.factor_values import class_labels
            from explorer.data.factors import factor_classes

            _, sizes, _ = factor_classes(ds.factors)
            factors = list(ds.factor_names or [f"factor {k}" for k in range(ds.factors.shape[1])])
            values = [class_labels(ds, k) for k in range(ds.factors.shape[1])]  # "square", "0.5", "0.16 rad"
        box = self.sliders.directions
        box.set_groups(classes, factors, [int(s) for s in sizes], values)
        choice = directions_of(self.session, self._key) if self._key is not None else None
        if choice is not None and self._model is not None and len(choice.base) != int(self._model.latent_dim):
            from explorer.core.session.directions import clear_directions

            clear_directions(self.session, self._key)  # saved for a model file of another latent dimension
            choice = None
        box.set_directions(choice)
        from explorer.core.session.directions import attribute_sets_of

        box.set_attribute_sets(attribute_sets_of(self.session, self._key) if self._key is not None else None)
        box.set_selection_size(len(self.session.selection))

    def _on_store_attribute_set(self, which: str) -> None:
        from explorer.core.session.directions import store_attribute_set

        box = self.sliders.directions
        if self._key is None:
            box.status.setText("Open a model first.")
            return
        try:
            sets = store_attribute_set(self.session, self._key, which)
        except ValueError as exc:
            box.status.setText(f"{exc}.".replace("..", "."))
            return
        stored = "B is every image not in A" if which == "rest" else \
            f"Stored {len(sets.a if which == 'A' else sets.b):,} selected images as {which}"
        box.status.setText(f"{stored}; press Compute directions for A − {'B' if sets.b is not None else 'rest'}.")

    def _on_directions_requested(self, params: dict) -> None:
        from explorer.core.session.directions import compute_directions, set_directions

        box = self.sliders.directions
        if self._key is None or self._model is None:
            box.status.setText("Open a model first.")
            return
        kind = params["kind"]
        try:
            dirs = compute_directions(self.session, self._key, kind,
                                      None if kind == "attribute" else params["n"], codes=params["codes"],
                                      by=params["by"], target=params["target"], reference=params["reference"])
            set_directions(self.session, self._key, kind, dirs)
        except ValueError as exc:
            box.status.setText(f"{exc}.".replace("..", "."))

    def _on_directions_cleared(self) -> None:
        from explorer.core.session.directions import clear_directions

        if self._key is not None:
            clear_directions(self.session, self._key)

    def _on_direction_offset(self, i: int, t: float) -> None:
        from explorer.core.session.directions import set_direction_offset

        if self._key is None or self._model is None:
            return
        z = set_direction_offset(self.session, self._key, i, t)
        self.sliders.set_code(z, as_base=False)  # the axis sliders and the image follow

    def _on_session_slider_code(self, key: str) -> None:
        """The session's slider code of the shown model changed elsewhere: the sliders, image and star follow."""
        m = self.session.state(key)
        if self._restoring or key != self._key or self._model is None or m is None or m.slider_code is None \
                or m.slider_code.shape != (self._model.latent_dim,):
            return
        if np.array_equal(np.asarray(self.sliders.code(), np.float32), m.slider_code):
            return  # our own change coming back
        self._restoring = True
        try:
            self.sliders.set_code(m.slider_code, as_base=False)
        finally:
            self._restoring = False

    def _on_directions_changed(self, key: str) -> None:
        from explorer.core.session.directions import directions_of

        if key == self._key:
            from explorer.core.session.directions import attribute_sets_of

            self.sliders.directions.set_attribute_sets(attribute_sets_of(self.session, key))
            self.sliders.directions.set_directions(directions_of(self.session, key))
            self._update_traversal_source()

    def _on_settings_changed(self, group: str) -> None:
        if group == "interpolation" and not self._restoring:
            self.interp.apply_settings(self.session.settings.get("interpolation", {}))
        elif group == "traversal":
            self.traversal.apply_settings(self.session.settings.get("traversal", {}))

    def _on_embedding_shown(self, _result) -> None:
        self._placers.clear()
        self._sync()
        self._on_code_changed(self.sliders.code(), to_session=False)
        self._on_path_changed(self.interp.path)

    def _on_keypoints_changed(self) -> None:
        if self._restoring or self._key is None:
            return
        self.session.set_keypoints(self._key, [Keypoint(z, label, index) for z, label, index in zip(
            self.interp.keypoints, self.interp.labels, self.interp.dataset_indices, strict=True)])

    # -- selection

    def _selected(self):
        codes = self.presenter.shown_codes
        sel = self.session.selected_points(self.presenter.shown_key)
        if codes is None or self._model is None or len(sel) == 0 or codes.z.shape[1] != self._model.latent_dim:
            return None, sel
        return codes.z, sel

    def _on_selection_changed(self) -> None:
        self.sliders.set_selection_available(len(self.session.selected_points(self.presenter.shown_key)) > 0)
        self.sliders.directions.set_selection_size(len(self.session.selection))

    def _on_from_selection(self) -> None:
        z, sel = self._selected()
        if z is not None:
            self.sliders.set_code(z[int(sel[0])], as_base=True)

    def _on_add_selection(self) -> None:
        z, sel = self._selected()
        if z is None:
            self.interp.status.setText("Select points on the embedding first (they become keypoints in order).")
            return
        codes = self.presenter.shown_codes
        for i in sel[:32]:
            index = int(codes.dataset_indices([int(i)])[0]) if codes.of_dataset else None
            self.interp.add_keypoint(z[int(i)], point_label(codes, int(i)), index)

    def _on_traversal_requested(self) -> None:
        self._update_traversal_source()
        self.traversal.render()
        if self.traversal_dock is not None:
            self.traversal_dock.show()
            self.traversal_dock.raise_()

    # -- marker and path on the embedding

    def _placer(self):
        """(place(points) -> (M, 2), kind, runs_remote) for the embedding shown, or None."""
        res, shown = self.presenter.shown_embedding, self.presenter.shown_codes
        if res is None or shown is None or self._model is None or shown.z.shape[1] != self._model.latent_dim:
            return None
        hit = self._placers.get(id(res))
        if hit is not None:
            return hit
        from explorer.core.heavy import load_estimators
        from explorer.core.projection import NearestNeighbourPlacement, make_estimator

        load_estimators()  # scikit-learn under the one lock: the job threads may be importing it now

        proj = getattr(res, "projection", None)
        out = None
        if proj is not None and proj.can_transform:
            out = (proj.transform, proj.transform_kind, proj.transform_kind == "umap-transform")
        elif res.spec.method == "pca":
            est = make_estimator(res.spec).fit(shown.z)
            probe = min(len(shown.z), 16)
            if np.allclose(est.transform(shown.z[:probe]), res.embedding[:probe], atol=1e-3):
                out = (est.transform, "exact", False)
        if out is None:
            nn = NearestNeighbourPlacement(shown.z, res.embedding)
            out = (nn.transform, "nearest-neighbour", False)
        self._placers[id(res)] = out
        return out

    def _on_code_changed(self, z, to_session: bool = True) -> None:
        self._update_traversal_source()
        z = np.asarray(z, np.float32)
        if to_session and not self._restoring and self._key is not None and self._model is not None \
                and z.shape == (self._model.latent_dim,):
            self.session.set_slider_code(self._key, z)
            from explorer.core.session.directions import follow_slider_code

            follow_slider_code(self.session, self._key)  # moved by other means: the direction offsets restart here
        self._pending_marker = (z, "slider code")
        if not self._marker_timer.isActive():
            self._marker_timer.start(self.MARKER_DELAY_MS)

    def _on_frame_changed(self, i: int) -> None:
        if self.interp.path is not None:
            self._pending_marker = (self.interp.path[i], f"frame {i + 1}")
            if not self._marker_timer.isActive():
                self._marker_timer.start(self.MARKER_DELAY_MS)

    def _on_marker_timeout(self) -> None:
        if self._pending_marker is None:
            return
        z, label = self._pending_marker
        self._pending_marker = None
        self._place(z[None], lambda xy, kind: self._show_marker(xy, label, kind), "latent-marker")

    def _show_marker(self, xy, label, kind) -> None:
        note = " (nearest neighbour)" if kind == "nearest-neighbour" else ""
        self.view.set_marker_point(tuple(np.asarray(xy)[0]), label + note)

    def _on_path_changed(self, path) -> None:
        if path is None:
            self.view.set_overlay_path(None)
            return
        self._place(np.asarray(path, np.float32), lambda xy, kind: self.view.set_overlay_path(xy), "latent-path")

    def _place(self, points, done, kind_of_job: str) -> None:
        """Place codes on the embedding and call ``done(xy, kind)``; UMAP runs as a job of ``kind_of_job``.

        A newer request of the same job kind cancels an older one (the latest code wins);
        while the projection worker is busy (another placement, a fit) the job retries for
        up to ``PLACE_RETRY_S`` seconds, then falls back to the nearest data point.
        """
        placer = self._placer()
        if placer is None:
            return
        fn, kind, remote = placer
        if not remote:  # PCA (exact) or nearest neighbour: a few ms, on the GUI thread
            done(fn(points), kind)
            return
        from explorer.core.projection import NearestNeighbourPlacement, ProjectionWorkerBusy

        res, shown = self.presenter.shown_embedding, self.presenter.shown_codes
        worker = self.session.projection_workers().get(res.spec.method)
        request_id = getattr(res.projection, "request_id", None)
        if worker is None or request_id is None or not worker.is_warm:
            # umap-learn's transform compiles numba for up to 40 s on first use and cannot be
            # interrupted: until the warm-up has done that, place the nearest data point.
            done(NearestNeighbourPlacement(shown.z, res.embedding).transform(points), "nearest-neighbour")
            return

        def run(ctx):
            import time

            deadline = time.monotonic() + self.PLACE_RETRY_S
            while True:
                ctx.check()
                try:
                    return worker.transform(request_id, points, timeout=self.PLACE_RETRY_S), kind
                except ProjectionWorkerBusy:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)
                except Exception:  # noqa: BLE001 - model evicted, worker restarted, timeout: the nearest point
                    break
            return NearestNeighbourPlacement(shown.z, res.embedding).transform(points), "nearest-neighbour"

        def finish(result):
            if self.presenter.shown_embedding is res:
                done(*result)

        self.runner.submit_job(kind_of_job, run, label="placing the latent code on the embedding", on_done=finish)
