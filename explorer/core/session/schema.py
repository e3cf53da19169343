"""The session-file schema: every field of a ``.lxs`` document checked and converted before anything is opened.

`parse_document` turns the JSON into a :class:`Plan` of plain, checked values, or raises
:class:`SessionFileError` with one sentence naming the file and the field. Restoring a session
then only applies the plan: nothing in it can fail on a value of the wrong type or size.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from explorer.core.captions import COLOUR_MODES
from explorer.core.compare.align import ALIGNMENTS
from explorer.core.projection.spec import ProjectionSpec
from explorer.core.session.panel_settings import PANEL_GROUPS, ValueChecks, check_panel_settings, value_check_text
from explorer.core.session.state import ClusteringSettings, Colour, GanPoints, Keypoint

__all__ = ["SessionFileError", "Plan", "ModelPlan", "parse_document", "MAX_LATENT_DIM", "MAX_INDEX"]

#: Largest latent dimension, k, number of points or frames a session file may name.
MAX_LATENT_DIM = 1 << 16
#: Largest dataset index (and number of selected images) a session file may name.
MAX_INDEX = 1 << 40
_RESULTS_NAME = re.compile(r"^[^/\\.][^/\\]*\.npz$")


class SessionFileError(ValueError):
    """A session file that cannot be read; the message is one sentence naming the file."""


@dataclass
class ModelPlan:
    """One model entry of a session file, checked: its path (as written), hash, and what it showed."""

    path: str
    sha256: str | None
    projection: ProjectionSpec | None
    view_range: tuple | None
    clustering: dict | None
    gan_points: GanPoints
    slider_code: np.ndarray | None
    keypoints: list[Keypoint]
    directions: Any = None  # DirectionChoice of the latent sliders, or None
    attribute_sets: Any = None  # AttributeSets (stored selections A, B), or None


@dataclass
class Plan:
    """A session document, checked and converted (see ``docs/session-format.md``)."""

    version: int
    dataset: dict | None
    models: list[ModelPlan]
    active: int | None
    colour: Colour
    marker: tuple[float, float]
    selection: np.ndarray
    projection: ProjectionSpec
    clustering: ClusteringSettings
    settings: dict[str, dict] = field(default_factory=dict)
    results: str | None = None
    compare: dict = field(default_factory=lambda: {"on": False, "models": [], "align": "procrustes",
                                                   "colour_model": None})
    evaluations: list = field(default_factory=list)  # (model position, Evaluation)


class _Check(ValueChecks):
    """Checks of one file: each raises SessionFileError("session file '<path>' has a bad <what> (<value>)")."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, what: str) -> SessionFileError:
        return SessionFileError(f"session file '{self.path}' {what}")

    def bad(self, what: str, value: Any) -> SessionFileError:
        return self.fail(f"has a {value_check_text(what, value)}")

    def vector(self, value: Any, what: str) -> np.ndarray:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LATENT_DIM or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value):
            raise self.bad(f"{what} (a list of finite numbers)", value)
        return np.asarray(value, np.float32)

    def spec(self, value: Any, what: str) -> ProjectionSpec | None:
        if value is None:
            return None
        d = self.obj(value, what)
        try:
            return ProjectionSpec(d.get("method", "pca"), self.obj(d.get("params", {}), f"{what} params", {}),
                                  self.int(d.get("seed", 0), f"{what} seed", 0, 2**32 - 1))
        except ValueError as exc:
            if isinstance(exc, SessionFileError):
                raise
            raise self.fail(f"has a bad {what}: {exc}") from None


def _settings(c: _Check, doc: dict) -> dict[str, dict]:
    interp = c.obj(doc.get("interpolation"), "\"interpolation\" entry", {})
    out_i: dict[str, Any] = {}
    if "method" in interp:
        out_i["method"] = c.choice(interp["method"], "interpolation method", ("slerp", "lerp"))
    if "frames" in interp:
        out_i["frames"] = c.int(interp["frames"], "interpolation frames", 2, 2000)
    if "closed" in interp:
        out_i["closed"] = c.choice(interp["closed"], "interpolation \"closed\"", (True, False))
    if "fps" in interp:
        out_i["fps"] = c.num(interp["fps"], "interpolation fps", 1, 60)
    trav = c.obj(doc.get("traversal"), "\"traversal\" entry", {})
    traversal: dict[str, Any] = {}
    if "rows" in trav:
        traversal["rows"] = c.int(trav["rows"], "traversal rows", 1, 64)
    if "columns" in trav:
        traversal["columns"] = c.int(trav["columns"], "traversal columns", 2, 32)
    if "scale" in trav:
        traversal["scale"] = c.num(trav["scale"], "traversal scale", 0.5, 16)
    if "upscale" in trav:
        traversal["upscale"] = c.choice(trav["upscale"], "traversal upscale", ("nearest", "smooth"))
    if "dims" in trav:
        if not isinstance(trav["dims"], str) or len(trav["dims"]) > 1000:
            raise c.bad("traversal dims", trav["dims"])
        traversal["dims"] = trav["dims"]
    rec = c.obj(doc.get("reconstruction"), "\"reconstruction\" entry", {})
    out_r: dict[str, Any] = {}
    checks = {"source": ("choice", ("selection", "random", "worst", "best")), "n": ("int", 1, 64),
              "precision": ("choice", ("float32", "float16", *(f"{k}bit" for k in range(2, 17)))),
              "sample": ("choice", ("mean", "posterior")), "seed": ("int", 0, 2**31 - 1),
              "scope": ("choice", ("sample", "all")), "dataset_n": ("int", 2, 1_000_000)}
    for key, check in checks.items():
        if key in rec:
            out_r[key] = (c.choice(rec[key], f"reconstruction {key}", check[1]) if check[0] == "choice"
                          else c.int(rec[key], f"reconstruction {key}", check[1], check[2]))
    if "inversion" in rec:
        inv = c.obj(rec["inversion"], "GAN-inversion settings")
        limits = {"steps": (0, 1_000_000), "restarts": (1, 1024), "batch_size": (1, 100_000), "seed": (0, 2**32 - 1)}
        out_inv: dict[str, Any] = {}
        for key, value in inv.items():
            if key in limits:
                out_inv[key] = c.int(value, f"GAN-inversion {key}", *limits[key])
            elif key == "lr":
                out_inv[key] = c.num(value, "GAN-inversion lr", 0, 1e3, lo_open=True)
            elif key == "prior_weight":
                out_inv[key] = c.num(value, "GAN-inversion prior_weight", 0, 1e6)
            elif key == "method":
                out_inv[key] = c.choice(value, "GAN-inversion method", ("bank-halving", "adam"))
            elif key == "bank_size":
                out_inv[key] = c.int(value, "GAN-inversion bank_size", 1, 1_000_000)
            else:
                raise c.bad("GAN-inversion setting", key)
        out_r["inversion"] = out_inv
    panels = {group: check_panel_settings(c, group, doc.get(group)) for group in PANEL_GROUPS}
    return {"interpolation": out_i, "traversal": traversal, "reconstruction": out_r, **panels}


def _model(c: _Check, m: Any, i: int) -> ModelPlan:
    where = f"model #{i + 1}"
    m = c.obj(m, f"entry for {where}")
    if not isinstance(m.get("path"), str) or not m["path"]:
        raise c.bad(f"path for {where}", m.get("path"))
    sha = m.get("sha256")
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise c.bad(f"sha256 for {where}", sha)
    vr = m.get("view_range")
    view_range = None
    if vr is not None:
        if not (isinstance(vr, list) and len(vr) == 2 and all(isinstance(r, list) and len(r) == 2 for r in vr)):
            raise c.bad(f"view_range for {where} ([[x0, x1], [y0, y1]])", vr)
        (x0, x1), (y0, y1) = ((c.num(v, f"view_range for {where}", -1e300, 1e300) for v in r) for r in vr)
        if not (x0 < x1 and y0 < y1):
            raise c.bad(f"view_range for {where} (x0 < x1, y0 < y1)", vr)
        view_range = ((x0, x1), (y0, y1))
    clustering = None
    if m.get("clustering") is not None:
        cl = c.obj(m["clustering"], f"clustering for {where}")
        clustering = {"space": c.choice(cl.get("space"), f"clustering space for {where}", ("latent", "embedding")),
                      "k": c.int(cl.get("k"), f"k for {where}", 1, MAX_LATENT_DIM),
                      "seed": c.int(cl.get("seed", 0), f"k-means seed for {where}", 0, 2**32 - 1)}
    gp = c.obj(m.get("gan_points"), f"gan_points for {where}", {})
    gan = GanPoints(c.choice(gp.get("source", "prior"), f"gan_points source for {where}", ("prior", "inverted")),
                    c.int(gp.get("n", 1000), f"gan_points n for {where}", 0, MAX_INDEX))
    slider = None if m.get("slider_code") is None else c.vector(m["slider_code"], f"slider_code for {where}")
    kps = m.get("keypoints", [])
    if not isinstance(kps, list) or len(kps) > 10_000:
        raise c.bad(f"keypoints for {where}", kps)
    keypoints = []
    for k in kps:
        k = c.obj(k, f"keypoint of {where}")
        z = c.vector(k.get("z"), f"keypoint z of {where}")
        label = k.get("label", "")
        if not isinstance(label, str):
            raise c.bad(f"keypoint label of {where}", label)
        index = k.get("dataset_index")
        index = None if index is None else c.int(index, f"keypoint dataset_index of {where}", 0, MAX_INDEX)
        keypoints.append(Keypoint(z, label[:200], index))
    if len({len(k.z) for k in keypoints} | ({len(slider)} if slider is not None else set())) > 1:
        raise c.fail(f"has slider and keypoint codes of different lengths for {where}")
    directions = None
    if m.get("directions") is not None:
        from explorer.core.session.directions import DirectionChoice

        try:
            directions = DirectionChoice.from_dict(m["directions"])
        except (ValueError, TypeError, OverflowError) as exc:
            raise c.fail(f"has bad slider directions for {where}: {exc}") from None
        if slider is not None and len(directions.base) != len(slider):
            raise c.fail(f"has slider directions and a slider code of different lengths for {where}")
    sets = None
    if m.get("attribute_sets") is not None:
        from explorer.core.session.directions import AttributeSets

        try:
            sets = AttributeSets.from_dict(m["attribute_sets"])
        except (ValueError, TypeError, OverflowError) as exc:
            raise c.fail(f"has bad stored selections (attribute_sets) for {where}: {exc}") from None
    return ModelPlan(m["path"], sha, c.spec(m.get("projection"), f"projection for {where}"), view_range,
                     clustering, gan, slider, keypoints, directions, sets)


def parse_document(doc: Any, path: Path, version: int) -> Plan:
    """Check and convert every field of a session document (version ``version``) read from ``path``.

    Raises
    ------
    SessionFileError
        A field of the wrong type, out of range, or unknown where only known values are allowed.
    """
    from explorer.data import DEFAULT_RESIZE, RESIZE_METHODS

    c = _Check(path)
    ds = doc.get("dataset")
    dataset = None
    if ds is not None:
        ds = c.obj(ds, "\"dataset\" entry")
        if not isinstance(ds.get("spec"), str) or not ds["spec"]:
            raise c.bad("dataset spec", ds.get("spec"))
        limit = ds.get("limit")
        dataset = {"kind": c.choice(ds.get("kind", "name"), "dataset kind", ("name", "path")), "spec": ds["spec"],
                   "split": c.choice(ds.get("split"), "dataset split", (None, "train", "test")),
                   "limit": None if limit is None else c.int(limit, "dataset limit", 1, MAX_INDEX),
                   "seed": c.int(ds.get("seed", 0), "dataset seed", 0, 2**32 - 1),
                   "resize": c.choice(ds.get("resize", DEFAULT_RESIZE), "dataset resize filter", RESIZE_METHODS),
                   "identity": ds.get("identity") if isinstance(ds.get("identity"), str) else None}
    models = doc.get("models")
    if not isinstance(models, list) or len(models) > 256:
        raise c.fail("has no \"models\" list (of at most 256 models)")
    plans = [_model(c, m, i) for i, m in enumerate(models)]
    active = doc.get("active")
    if active is not None:
        active = c.int(active, "\"active\" model index", 0, max(len(plans) - 1, 0))
    col = c.obj(doc.get("colouring"), "colouring", {})
    colour = Colour(c.choice(col.get("mode", "label"), "colouring mode", COLOUR_MODES),
                    c.int(col.get("dim", 0), "colouring dimension", 0, MAX_LATENT_DIM))
    mk = c.obj(doc.get("marker"), "marker", {})
    marker = (c.num(mk.get("size", 5.0), "marker size", 0, 100, lo_open=True),
              c.num(mk.get("opacity", 0.8), "marker opacity", 0, 1))
    sel = doc.get("selection", [])
    if not isinstance(sel, list) or len(sel) > MAX_INDEX or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < MAX_INDEX for i in sel):
        raise c.fail("has a bad selection (it must be a list of dataset indices)")
    cl = c.obj(doc.get("clustering"), "clustering settings", {})
    sweep = cl.get("sweep", [2, 20])
    if not (isinstance(sweep, list) and len(sweep) == 2):
        raise c.bad("k sweep ([k_from, k_to])", sweep)
    clustering = ClusteringSettings(
        c.choice(cl.get("space", "latent"), "clustering space", ("latent", "embedding")),
        c.int(cl.get("k", 10), "k", 1, MAX_LATENT_DIM), c.int(cl.get("seed", 0), "k-means seed", 0, 2**32 - 1),
        (c.int(sweep[0], "k sweep start", 1, MAX_LATENT_DIM), c.int(sweep[1], "k sweep end", 1, MAX_LATENT_DIM)))
    results = doc.get("results")
    if results is not None and not (isinstance(results, str) and _RESULTS_NAME.match(results)):
        raise c.bad("\"results\" file name (NAME.npz beside the session)", results)
    cmp = c.obj(doc.get("compare"), "\"compare\" entry", {})
    if not isinstance(cmp.get("on", False), bool):
        raise c.bad("compare \"on\" (true or false)", cmp.get("on"))
    compare = {"on": cmp.get("on", False),
               "align": c.choice(cmp.get("align", "procrustes"), "compare alignment", ALIGNMENTS)}
    shown = cmp.get("models", [])
    if not isinstance(shown, list) or len(shown) > len(plans) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(plans) for i in shown):
        raise c.fail("has a bad \"compare\" models list (positions in \"models\")")
    compare["models"] = list(dict.fromkeys(shown))
    colour_model = cmp.get("colour_model")
    if colour_model is not None:
        colour_model = c.int(colour_model, "compare colour model", 0, max(len(plans) - 1, 0))
    compare["colour_model"] = colour_model
    return Plan(version=version, dataset=dataset, models=plans, active=active, colour=colour, marker=marker,
                selection=np.asarray(sorted(set(sel)), np.int64), projection=c.spec(doc.get("projection"),
                                                                                    "projection") or ProjectionSpec(),
                clustering=clustering, settings=_settings(c, doc), results=results, compare=compare,
                evaluations=_evaluations(c, doc, len(plans)))


#: At most this many numbers in one evaluation entry (per-image series and matrices together).
MAX_EVALUATION_NUMBERS = 1 << 24


def _numbers(value: Any) -> bool:
    from explorer.limits import finite_number

    return isinstance(value, list) and all(v is None or finite_number(v) for v in value)


def _evaluations(c: _Check, doc: dict, n_models: int) -> list:
    """The ``"evaluations"`` entry checked: ``[(model position, Evaluation)]`` (see docs/session-format.md)."""
    from explorer.core.session.evaluations import FAMILY_PATTERN, Evaluation

    entries = doc.get("evaluations", [])
    if not isinstance(entries, list):
        raise c.bad("\"evaluations\" entry (a list)", type(entries).__name__)
    out = []
    for j, e in enumerate(entries):
        where = f"evaluation {j + 1}"
        e = c.obj(e, where)
        pos = c.int(e.get("model"), f"model position of {where}", 0, max(n_models - 1, 0))
        family = e.get("family")
        if not isinstance(family, str) or not FAMILY_PATTERN.match(family):
            raise c.bad(f"family of {where}", family)
        record = c.obj(e.get("record"), f"record of {where}")
        identity = e.get("dataset_identity")
        if identity is not None and not isinstance(identity, str):
            raise c.bad(f"dataset identity of {where}", identity)
        indices = e.get("indices")
        if indices is not None and (not isinstance(indices, list) or len(indices) > MAX_EVALUATION_NUMBERS or not all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i < MAX_INDEX for i in indices)):
            raise c.fail(f"has bad dataset indices in {where}")
        values, matrices = c.obj(e.get("values"), f"values of {where}", {}), c.obj(e.get("matrices"),
                                                                                 f"matrices of {where}", {})
        total = sum(len(v) if isinstance(v, list) else 0 for v in values.values())
        for name, v in values.items():
            if not _numbers(v) or indices is None or len(v) != len(indices):
                raise c.fail(f"has a bad per-image series {name!r} in {where} (one number per index)")
        for name, m in matrices.items():
            if not isinstance(m, list) or not m or not all(isinstance(r, list) and len(r) == len(m[0]) and _numbers(r)
                                                             for r in m):
                raise c.fail(f"has a bad matrix {name!r} in {where} (rows of numbers, all of one length)")
            total += len(m) * len(m[0])
        if total > MAX_EVALUATION_NUMBERS:
            raise c.fail(f"has too many numbers in {where} ({total:,} > {MAX_EVALUATION_NUMBERS:,})")
        out.append((pos, Evaluation.from_dict({**e, "record": record, "values": values, "matrices": matrices})))
    return out
