"""The compared models' scorecard and rate–distortion curves as session tasks, and the scorecard's exports."""

from __future__ import annotations

from explorer.core.session.state import Task

__all__ = ["CompareMeasures"]


class CompareMeasures:
    """Methods of :class:`~explorer.core.session.Session` that measure the compared models on the same images.

    A mixin: it uses ``compared_keys``, ``state``, ``dataset``, ``inversion_settings``, the ``scorecard``
    attribute and the ``scorecard_changed`` signal.
    """

    def scorecard_task(self, n_images: int | None = 1000, precisions=("float32", "8bit"),
                       metrics=("clustering", "reconstruction"), seed: int = 0) -> Task | None:
        """Measure the compared models on the same seeded images: the scorecard (`explorer.core.compare`).

        Every model is measured on the same ``n_images`` dataset images (a seeded sample,
        `explorer.data.subsample_indices`), each code found once — a GAN without encoder
        through GAN inversion with the session's inversion settings, kept in the shared
        inverted-codes store — and the table marks the best value per column and the
        differences a paired bootstrap does not separate from zero
        (`explorer.core.compare.run.compare_models`, `explorer.core.compare.scorecard.scorecard_of`).

        Parameters
        ----------
        n_images : int or None
            N (None: every image).
        precisions : sequence of str
            Reconstruction code precisions ("float32", "float16", "kbit").
        metrics : sequence of str
            Families `compare_models` measures.
        seed : int

        Returns
        -------
        Task or None
            None without a dataset or compared models. Its result is kept as
            ``scorecard`` (``{"comparison", "card", "keys", "dataset_id"}``) and announced by
            ``scorecard_changed``.
        """
        keys = [k for k in self.compared_keys() if (m := self.state(k)) is not None and m.entry is not None]
        if self.dataset is None or not keys:
            return None
        from explorer.core.compare.run import compare_models
        from explorer.core.compare.scorecard import scorecard_of

        paths = [self.state(k).path for k in keys]
        dataset, dataset_id = self.dataset, self.dataset_id
        inversion = self.inversion_settings()
        n = None if n_images is None else min(int(n_images), len(dataset))
        precisions, metrics = tuple(precisions), tuple(metrics)

        extra = self.evaluation_records(keys, dataset_id)
        device_name = self.device  # Settings ▸ Compute device, as for the models it opens

        def measure(ctx):
            from explorer.core.device import resolve_device

            device = None if device_name is None else resolve_device(device_name)
            comparison = compare_models(paths, dataset, metrics, n_images=n, precisions=precisions, seed=seed,
                                        inversion=inversion, ctx=ctx, device=device)
            return comparison, scorecard_of(comparison, extra=extra)

        def apply(result):
            if dataset_id != self.dataset_id:
                return
            comparison, card = result
            fresh = self.evaluation_records(keys, dataset_id)
            if fresh != extra:  # an evaluation was kept while the scorecard was measured
                card = scorecard_of(comparison, extra=fresh)
            self.scorecard = {"comparison": comparison, "card": card, "keys": keys, "dataset_id": dataset_id}
            self.scorecard_changed.emit()

        what = "all" if n is None else f"{n:,}"
        return Task("compare-scorecard", "compare", measure,
                    f"Scorecard of {len(keys)} models on {what} images", apply)

    def evaluation_records(self, keys, dataset_id) -> list[dict]:
        """Per model of ``keys``: ``{family: record}`` of its kept evaluations on dataset ``dataset_id``.

        The likelihood, sample-quality, disentanglement and human-test numbers of each model's
        panels, for the scorecard; qualified families (a second dataset's likelihood) and
        evaluations of another dataset are left out. Each record gets its ``dataset_identity``
        so that the scorecard compares only numbers computed on the same data.
        """
        out = []
        for k in keys:
            recs = {}
            for family, ev in sorted(self.evaluations_of(k).items()):
                if ":" not in family and ev.dataset_id == dataset_id:
                    recs[family] = {**ev.record, "dataset_identity": ev.dataset_id}
            out.append(recs)
        return out

    def _scorecard_follows_evaluations(self, key: str, _family: str) -> None:
        """A compared model's evaluation changed: the kept scorecard shows it (no model is measured again)."""
        sc = self.scorecard
        if sc is None or key not in sc["keys"] or any(self.state(k) is None for k in sc["keys"]):
            return
        from explorer.core.compare.scorecard import scorecard_of

        sc["card"] = scorecard_of(sc["comparison"], extra=self.evaluation_records(sc["keys"], sc["dataset_id"]))
        self.scorecard_changed.emit()

    def compare_rd_task(self, n: int = 200) -> Task | None:
        """Rate–distortion of the scorecard's models beside JPEG/WebP on its first ``n`` images (a task).

        From the codes the scorecard found (none encoded or inverted again;
        `explorer.core.compare.report.rate_distortion_curves`); one compression ratio for all —
        bits of the original image over bits of the code. The rows are kept as
        ``scorecard["rd"]`` and announced by ``scorecard_changed``.

        Returns
        -------
        Task or None
            None before a scorecard with reconstructions.
        """
        sc = self.scorecard
        if sc is None or "reconstruction" not in sc["comparison"].settings.get("metrics", ()):
            return None
        from explorer.core.compare.report import rate_distortion_curves

        comparison = sc["comparison"]

        def curves(ctx):
            return rate_distortion_curves(comparison, n=int(n), ctx=ctx)

        def apply(rows):
            if self.scorecard is sc:
                sc["rd"] = rows
                self.scorecard_changed.emit()

        return Task("compare-rd", "compare", curves,
                    f"Rate–distortion of {len(comparison.runs)} models on {min(int(n), comparison.n_images):,} "
                    "images", apply)

    def export_scorecard(self, path) -> str:
        """Write the scorecard by the file's suffix: .csv, .json (evaluate's records + the table), .md, .tex.

        Raises
        ------
        ValueError
            No scorecard yet, or another suffix.
        OSError
            The file cannot be written (nothing partial is left).
        """
        import os

        from explorer.core.compare import tables
        from explorer.core.export import atomic_path, to_jsonable, write_json

        if self.scorecard is None:
            raise ValueError("there is no scorecard yet; compute it first")
        card, comparison = self.scorecard["card"], self.scorecard["comparison"]
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lower()
        text = {".csv": tables.scorecard_csv, ".md": tables.scorecard_markdown,
                ".tex": tables.scorecard_latex}.get(ext)
        if ext == ".json":
            write_json(path, to_jsonable({**comparison.result(), "scorecard": card.to_dict()}))
        elif text is not None:
            with atomic_path(path) as tmp:
                tmp.write_text(text(card), encoding="utf-8")
        else:
            raise ValueError(f"cannot write the scorecard to '{path}': use .csv, .json, .md or .tex")
        return path
