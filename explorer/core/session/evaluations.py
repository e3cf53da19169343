"""Per-model evaluation results (likelihood, sample quality, disentanglement, a human test) kept by the session.

One store for every judging panel: a panel asks :meth:`Evaluations.evaluation_task` for a task
that runs an orchestration of ``explorer.core`` (``estimate_likelihood``, ``sample_quality``,
``evaluate_disentanglement`` …) and returns an :class:`Evaluation`; its result is kept on the
model's state under its family, announced by ``evaluation_changed(key, family)`` and saved in
the ``.lxs`` (``"evaluations"``, see ``docs/session-format.md``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorer.core.jobs import JobContext
from explorer.core.session.state import Task

__all__ = ["Evaluation", "Evaluations", "FAMILY_PATTERN", "json_ready", "PER_IMAGE_SERIES", "series_title"]

#: What a family name may be: the metric family, optionally ``:``-qualified (``"likelihood:digits"``).
FAMILY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}(:[A-Za-z0-9_.\-]{1,80})?$")

#: The per-image series a colouring can show, by preference: ``(family, name, title)``.
PER_IMAGE_SERIES = (("likelihood", "bits_per_dim", "−log p(x) [bits/dim]"),
                    ("likelihood", "nll_nats", "−log p(x) [nats]"))


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars and arrays made plain Python, and non-finite floats made None.

    JSON has no NaN or infinity; a record written with them would not read back, so they
    become ``null`` (a metric that could not be computed).
    """
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    return value


@dataclass(eq=False)  # compared by identity: views tell a new result from the one they drew
class Evaluation:
    """One evaluation of one model: the record the CLI writes, with what a panel draws from.

    Attributes
    ----------
    family : str
        The metric family (``"likelihood"``, ``"sample_quality"``, ``"disentanglement"``,
        ``"human"``), optionally qualified after a colon (``"likelihood:digits"`` for a
        second dataset); matches :data:`FAMILY_PATTERN`.
    record : dict
        JSON-ready, exactly what ``latent-explorer evaluate`` writes under this family's key
        (units, N, settings, extractor … as that record says).
    dataset_id : str or None
        Identity (``explorer.data.dataset_identity``) of the dataset it was computed on.
    indices : numpy.ndarray or None
        ``(n,)`` int64 dataset indices the per-image ``values`` belong to.
    values : dict of str to numpy.ndarray
        Per-image series, each ``(n,)`` float64 aligned with ``indices`` (NaN: not computed),
        e.g. ``{"nll_nats": ..., "bits_per_dim": ...}``.
    matrices : dict of str to numpy.ndarray
        Small 2-D float64 arrays (e.g. the factor × latent mutual-information matrix
        ``(K, d)`` in nats, the DCI importance matrix ``(d, K)``, an IWAE curve).
    """

    family: str
    record: dict
    dataset_id: str | None = None
    indices: np.ndarray | None = None
    values: dict = field(default_factory=dict)
    matrices: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not FAMILY_PATTERN.match(str(self.family)):
            raise ValueError(f"evaluation family {self.family!r} is not a lower-case name (optionally name:qualifier)")
        self.record = json_ready(dict(self.record))
        if self.indices is not None:
            self.indices = np.asarray(self.indices, np.int64).ravel()
        n = None if self.indices is None else len(self.indices)
        values = {}
        for name, v in self.values.items():
            v = np.asarray(v, np.float64).ravel()
            if n is None or len(v) != n:
                raise ValueError(f"per-image values {name!r} need one value per index ({n}), got {len(v)}")
            values[str(name)] = v
        self.values = values
        matrices = {}
        for name, m in self.matrices.items():
            m = np.asarray(m, np.float64)
            if m.ndim == 1:
                m = m[None, :]
            if m.ndim != 2:
                raise ValueError(f"matrix {name!r} must be 2-D, got shape {m.shape}")
            matrices[str(name)] = m
        self.matrices = matrices

    def to_dict(self) -> dict:
        """The JSON entry of the ``.lxs`` (without the model position)."""
        return {"family": self.family, "record": self.record, "dataset_identity": self.dataset_id,
                "indices": None if self.indices is None else [int(i) for i in self.indices],
                "values": {k: json_ready(v) for k, v in self.values.items()},
                "matrices": {k: json_ready(m) for k, m in self.matrices.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> Evaluation:
        """The evaluation of a checked ``.lxs`` entry (``null`` values become NaN)."""
        def arr(v):
            return np.array([math.nan if x is None else x for x in v], np.float64)

        return cls(family=d["family"], record=d["record"], dataset_id=d.get("dataset_identity"),
                   indices=None if d.get("indices") is None else np.asarray(d["indices"], np.int64),
                   values={k: arr(v) for k, v in d.get("values", {}).items()},
                   matrices={k: np.array([arr(row) for row in m]).reshape(len(m), -1)
                             for k, m in d.get("matrices", {}).items()})

    def per_image(self, name: str, n: int) -> np.ndarray | None:
        """``(n,)`` float64 over the dataset: series ``name`` at its indices, NaN elsewhere (None: no such series)."""
        v = self.values.get(name)
        if v is None or self.indices is None:
            return None
        out = np.full(int(n), np.nan)
        ok = (self.indices >= 0) & (self.indices < n)
        out[self.indices[ok]] = v[ok]
        return out


class Evaluations:
    """Methods of :class:`~explorer.core.session.Session` that keep each model's evaluations.

    A mixin: it uses ``state``, ``models``, ``dataset``, ``dataset_id``, ``mark_dirty`` and
    the ``evaluation_changed(str key, str family)`` signal. Evaluations live in
    ``ModelState.evaluations`` (family -> :class:`Evaluation`): closing the model drops them.
    """

    def evaluation(self, key: str | None, family: str) -> Evaluation | None:
        """The kept evaluation of model ``key`` (default: active) in ``family``, or None."""
        m = self.state(key) if key is not None else self.active
        return None if m is None else m.evaluations.get(family)

    def evaluations_of(self, key: str | None = None) -> dict:
        """``family -> Evaluation`` of model ``key`` (default: active); empty when none."""
        m = self.state(key) if key is not None else self.active
        return {} if m is None else dict(m.evaluations)

    def set_evaluation(self, key: str, evaluation: Evaluation) -> None:
        """Keep ``evaluation`` for model ``key`` (replacing that family's), announce and mark dirty.

        Raises
        ------
        KeyError
            No open model ``key``.
        """
        m = self.state(key)
        if m is None:
            raise KeyError(f"no open model {key!r}")
        if evaluation.dataset_id is None:  # computed here and now: on the open dataset
            evaluation.dataset_id = self.dataset_id
        m.evaluations[evaluation.family] = evaluation
        self.evaluation_changed.emit(key, evaluation.family)
        if self.colour.mode == "nll" and evaluation.values:
            self.colouring_changed.emit()  # the points show the new per-image values
        if not self.restoring:
            self.mark_dirty()

    def clear_evaluation(self, key: str, family: str) -> None:
        """Forget model ``key``'s evaluation in ``family`` (nothing when there is none)."""
        m = self.state(key)
        if m is not None and m.evaluations.pop(family, None) is not None:
            self.evaluation_changed.emit(key, family)
            self.mark_dirty()

    def evaluation_task(self, key: str, family: str, run: Callable[[JobContext], Evaluation], label: str,
                        detail: str = "") -> Task:
        """A task that computes model ``key``'s evaluation in ``family`` and keeps it.

        Parameters
        ----------
        key : str
            An open model.
        family : str
            Its family (:data:`FAMILY_PATTERN`); one running job per model and family (a new
            one cancels the old).
        run : callable
            ``run(ctx) -> Evaluation`` off the GUI thread; it touches only what it closed over
            (take the model and dataset before making the task). An evaluation without a
            ``dataset_id`` gets the dataset's at the time the task was made.
        label, detail : str
            The status bar's and the panel's words for it.

        Returns
        -------
        Task
            Family ``"evaluate"``. Its result is dropped when the dataset changed or the model
            was closed meanwhile (also when the same file was opened again).

        Raises
        ------
        KeyError
            No open model ``key``.
        ValueError
            ``family`` is not a family name.
        """
        state = self.state(key)
        if state is None:
            raise KeyError(f"no open model {key!r}")
        if not FAMILY_PATTERN.match(family):
            raise ValueError(f"evaluation family {family!r} is not a lower-case name")
        dataset_id = self.dataset_id

        def fn(ctx):
            result = run(ctx)
            if not isinstance(result, Evaluation) or result.family != family:
                raise TypeError(f"the {family} evaluation returned {type(result).__name__}, not its Evaluation")
            return result

        def apply(result: Evaluation):
            if self.dataset_id != dataset_id or self.state(key) is not state:  # closed (and perhaps reopened)
                return
            if result.dataset_id is None:
                result.dataset_id = dataset_id
            self.set_evaluation(key, result)

        return Task(f"evaluate:{family}:{key}", "evaluate", fn, label, apply, model_key=key, detail=detail)

    def per_image_series(self, key: str | None = None) -> tuple[np.ndarray, str] | None:
        """The per-image values a colouring shows for model ``key`` (default: active), over the dataset.

        Returns
        -------
        (values, title) or None
            ``values`` ``(N,)`` float64 for the N dataset images (NaN where not evaluated),
            from the first of :data:`PER_IMAGE_SERIES` the model has on the open dataset;
            ``title`` names it with estimator and N. None when there is none.
        """
        m = self.state(key) if key is not None else self.active
        if m is None or self.dataset is None:
            return None
        for family, name, title in PER_IMAGE_SERIES:
            ev = m.evaluations.get(family)
            if ev is None or ev.dataset_id != self.dataset_id:
                continue
            values = ev.per_image(name, len(self.dataset))
            if values is None or not np.isfinite(values).any():
                continue
            return values, series_title(ev, title, values)
        return None


def series_title(ev: Evaluation, title: str, values: np.ndarray) -> str:
    """``"−log p(x) [bits/dim], IWAE k = 5000, N = 1,000"``: a per-image series named with its estimator and N."""
    how = str(ev.record.get("estimator") or "")
    k = ev.record.get("k")
    what = how.upper() + (f" k = {k}" if how == "iwae" and k else "")
    return ", ".join(x for x in (title, what, f"N = {int(np.isfinite(values).sum()):,}") if x)
