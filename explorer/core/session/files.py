"""Session files (``.lxs``): a :class:`~explorer.core.session.Session` as versioned JSON, and its results ``.npz``.

The schema is documented in ``docs/session-format.md``. Nothing is unpickled: the JSON is
parsed with :mod:`json` and the companion arrays with ``numpy.load(allow_pickle=False)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.core.export import atomic_write
from explorer.core.projection.spec import ProjectionSpec
from explorer.core.session.results import apply_results, results_arrays, spec_from_dict, spec_to_dict
from explorer.core.session.state import ClusteringSettings, Colour, GanPoints, Keypoint, ModelState

__all__ = ["FORMAT", "VERSION", "SUFFIX", "SessionFileError", "SessionDoc", "session_document", "save_session",
           "read_session", "restore_session", "apply_results", "results_path", "describe_session"]

#: The ``"format"`` value of every session file.
FORMAT = "latent-explorer-session"
#: The schema version this code writes and reads.
VERSION = 1
#: File-name ending of session files.
SUFFIX = ".lxs"
#: Largest session file read (bytes): the JSON holds settings, never arrays of results.
MAX_BYTES = 64 * 1024 * 1024


class SessionFileError(ValueError):
    """A session file that cannot be read; the message is one sentence naming the file."""


def results_path(session_path: str | os.PathLike) -> Path:
    """The companion results file of a session: ``S.lxs`` → ``S.results.npz`` beside it."""
    p = Path(session_path)
    return p.with_name(p.stem + ".results.npz")


def _rel(path: Path, base: Path) -> str:
    """``path`` relative to folder ``base`` when possible (POSIX separators), else absolute."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), base.resolve())).as_posix()
    except ValueError:  # another drive
        return str(Path(path).resolve())


def _dataset_entry(session, base: Path) -> dict | None:
    ds = session.dataset_spec
    if ds is None:
        return None
    from explorer.data.named import DATASET_NAMES

    spec, kind = ds.spec, "name"
    if spec.lower() not in DATASET_NAMES:
        spec, kind = _rel(Path(spec), base), "path"
    return {"kind": kind, "spec": spec, "split": ds.split, "limit": ds.limit, "seed": ds.seed,
            "identity": session.dataset_id, "n": len(session.dataset) if session.dataset is not None else None}


def _model_entry(m: ModelState, base: Path) -> dict:
    clustering = None
    if m.clustering is not None:
        clustering = {"space": m.clustering.space, "k": m.clustering.k, "seed": m.clustering.seed}
    elif m.want_clustering is not None:
        clustering = dict(m.want_clustering)
    return {
        "path": _rel(m.path, base),
        "sha256": m.file_hash or m.saved_hash,
        "projection": spec_to_dict(m.shown or m.want_spec),
        "view_range": None if (m.view_range or m.want_view_range) is None
        else [list(r) for r in (m.view_range or m.want_view_range)],
        "clustering": clustering,
        "gan_points": {"source": m.gan_points.source, "n": m.gan_points.n},
        "slider_code": None if m.slider_code is None else [float(v) for v in m.slider_code],
        "keypoints": [{"label": k.label, "z": [float(v) for v in k.z], "dataset_index": k.dataset_index}
                      for k in m.keypoints],
    }


def session_document(session, path: str | os.PathLike, with_results: bool = False) -> dict:
    """The JSON document of ``session`` as it would be saved at ``path`` (paths relative to its folder)."""
    base = Path(path).resolve().parent
    active = next((i for i, m in enumerate(session.models) if m.key == session.active_key), None)
    c = session.clustering_settings
    return {
        "format": FORMAT,
        "version": VERSION,
        "dataset": _dataset_entry(session, base),
        "models": [_model_entry(m, base) for m in session.models],
        "active": active,
        "colouring": {"mode": session.colour.mode, "dim": session.colour.dim},
        "marker": {"size": session.marker[0], "opacity": session.marker[1]},
        "selection": [int(i) for i in session.selection],
        "projection": spec_to_dict(session.projection),
        "clustering": {"space": c.space, "k": c.k, "seed": c.seed, "sweep": list(c.sweep)},
        "interpolation": dict(sorted(session.settings.get("interpolation", {}).items())),
        "traversal": dict(sorted(session.settings.get("traversal", {}).items())),
        "reconstruction": dict(sorted(session.settings.get("reconstruction", {}).items())),
        "results": results_path(path).name if with_results else None,
    }


def save_session(session, path: str | os.PathLike, with_results: bool = False) -> Path:
    """Write ``session`` to ``path`` (atomic); with ``with_results`` also its codes, embeddings and clusterings.

    Parameters
    ----------
    session : Session
    path : path-like
        The ``.lxs`` file (the suffix is added when missing).
    with_results : bool
        Also write ``S.results.npz`` beside it (:func:`results_path`): per model the codes
        ``(N, d)`` float32, each embedding ``(N, 2)`` float32 and the cluster labels ``(N,)``
        int64, so the session opens without a model run (compute on a server, look on a laptop).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    OSError
        The file cannot be written (nothing is left behind; an old file stays as it was).
    """
    path = Path(path)
    if path.suffix != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    doc = session_document(session, path, with_results)
    if with_results:
        arrays, meta = results_arrays(session)
        arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)

        def write_npz(f):
            np.savez_compressed(f, **arrays)

        atomic_write(results_path(path), write_npz)
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    session.path = path
    session.mark_dirty(False)
    return path


@dataclass
class SessionDoc:
    """A session file read and checked: ``doc`` (the JSON), where it is, and its results file if any."""

    path: Path
    doc: dict
    results: Path | None

    @property
    def base(self) -> Path:
        """The folder relative paths are resolved against."""
        return self.path.resolve().parent

    def model_paths(self) -> list[Path]:
        """The model files, absolute."""
        return [_resolve(m["path"], self.base) for m in self.doc["models"]]


def _resolve(p: str, base: Path) -> Path:
    p = Path(os.path.expanduser(p))
    return p if p.is_absolute() else base / p


def _fail(path: Path, what: str) -> SessionFileError:
    return SessionFileError(f"session file '{path}' {what}")


def _need(cond: bool, path: Path, what: str) -> None:
    if not cond:
        raise _fail(path, what)


def read_session(path: str | os.PathLike) -> SessionDoc:
    """Read and check a session file (no model or dataset is opened).

    Raises
    ------
    SessionFileError
        Missing, too large, not JSON (e.g. truncated), not a session file, a newer version,
        or a field of the wrong type — one sentence naming the file.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc})") from None
    _need(size <= MAX_BYTES, path, f"is {size / 2**20:.0f} MiB; a session file is a few KiB of JSON")
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _fail(path, f"is not valid JSON (it may be truncated): {exc}") from None
    _need(isinstance(doc, dict) and doc.get("format") == FORMAT, path,
          f"is not a Latent Explorer session (no \"format\": \"{FORMAT}\")")
    version = doc.get("version")
    _need(isinstance(version, int) and not isinstance(version, bool), path, "has no integer \"version\"")
    _need(version <= VERSION, path,
          f"was written by a newer Latent Explorer (session format version {version}; this one reads up to "
          f"{VERSION}); update Latent Explorer to open it")
    _check_doc(doc, path)
    results = doc.get("results")
    return SessionDoc(path=path, doc=doc, results=(path.resolve().parent / results) if results else None)


def _check_doc(doc: dict, path: Path) -> None:
    def typed(value, types, what):
        _need(isinstance(value, types) and not isinstance(value, bool), path, f"has a bad {what} ({value!r})")

    ds = doc.get("dataset")
    _need(ds is None or isinstance(ds, dict), path, "has a bad \"dataset\" entry")
    if ds is not None:
        typed(ds.get("spec"), str, "dataset \"spec\"")
        _need(ds.get("split") in (None, "train", "test"), path, f"has a bad dataset split ({ds.get('split')!r})")
        _need(ds.get("limit") is None or isinstance(ds.get("limit"), int) and ds["limit"] > 0, path,
              f"has a bad dataset limit ({ds.get('limit')!r})")
        typed(ds.get("seed", 0), int, "dataset seed")
    models = doc.get("models")
    _need(isinstance(models, list), path, "has no \"models\" list")
    for i, m in enumerate(models):
        _need(isinstance(m, dict) and isinstance(m.get("path"), str), path, f"has a bad model entry #{i + 1}")
        for name in ("slider_code",):
            v = m.get(name)
            _need(v is None or isinstance(v, list) and all(isinstance(x, (int, float)) for x in v), path,
                  f"has a bad {name} for model #{i + 1}")
        kps = m.get("keypoints", [])
        _need(isinstance(kps, list) and all(isinstance(k, dict) and isinstance(k.get("z"), list) for k in kps),
              path, f"has bad keypoints for model #{i + 1}")
        try:
            spec_from_dict(m.get("projection"))
        except (TypeError, ValueError) as exc:
            raise _fail(path, f"has a bad projection for model #{i + 1}: {exc}") from None
        cl = m.get("clustering")
        _need(cl is None or isinstance(cl, dict) and cl.get("space") in ("latent", "embedding")
              and isinstance(cl.get("k"), int) and cl["k"] >= 1, path, f"has a bad clustering for model #{i + 1}")
    active = doc.get("active")
    _need(active is None or isinstance(active, int) and 0 <= active < max(len(models), 1), path,
          f"has a bad \"active\" model index ({active!r})")
    col = doc.get("colouring", {})
    _need(isinstance(col, dict) and col.get("mode", "label") in ("label", "cluster", "dimension", "none",
                                                                  "inversion_error"),
          path, f"has a bad colouring ({col!r})")
    sel = doc.get("selection", [])
    _need(isinstance(sel, list) and all(isinstance(i, int) and i >= 0 for i in sel), path,
          "has a bad selection (it must be a list of dataset indices)")
    try:
        spec_from_dict(doc.get("projection"))
    except (TypeError, ValueError) as exc:
        raise _fail(path, f"has a bad projection: {exc}") from None
    for group in ("interpolation", "traversal", "reconstruction"):
        _need(isinstance(doc.get(group, {}), dict), path, f"has a bad \"{group}\" entry")
    _need(doc.get("results") is None or isinstance(doc.get("results"), str) and "/" not in doc["results"]
          and "\\" not in doc["results"], path, "has a bad \"results\" file name")


def restore_session(session, sd: SessionDoc) -> list:
    """Put a read session file into an empty ``session``; return the tasks that load it.

    Model files that are missing or whose SHA-256 changed are named in ``session.notes``
    (one sentence each) and the rest of the session still opens: a missing file is left
    out, a changed file is opened with a note. Results of a companion ``.npz`` are used
    when its dataset identity and model hashes match.

    Returns
    -------
    list of Task
        The dataset and model loading tasks (run them, then :meth:`Session.follow_up`).
    """
    from explorer.core.projection.cache import file_sha256

    doc, base = sd.doc, sd.base
    session.path = sd.path
    session.notes = []
    session.restoring = True
    settings = doc.get("clustering") or {}
    sweep = settings.get("sweep", [2, 20])
    session.clustering_settings = ClusteringSettings(settings.get("space", "latent"), int(settings.get("k", 10)),
                                                     int(settings.get("seed", 0)), (int(sweep[0]), int(sweep[-1])))
    session.projection = spec_from_dict(doc.get("projection")) or ProjectionSpec("pca")
    col = doc.get("colouring") or {}
    session.colour = Colour(col.get("mode", "label"), int(col.get("dim", 0)))
    marker = doc.get("marker") or {}
    session.marker = (float(marker.get("size", 5.0)), float(marker.get("opacity", 0.8)))
    for group in ("interpolation", "traversal", "reconstruction"):
        session.settings[group] = dict(doc.get(group) or {})
    results = _read_results(sd, session.notes)
    tasks = []
    ds = doc.get("dataset")
    if ds is not None:
        spec = str(_resolve(ds["spec"], base)) if ds.get("kind") == "path" else ds["spec"]
        tasks.append(session.open_dataset(spec, ds.get("split"), ds.get("limit"), int(ds.get("seed", 0))))
    paths, entries = [], []
    for i, m in enumerate(doc["models"]):
        p = _resolve(m["path"], base)
        if not p.is_file():
            session.notes.append(f"The model file '{m['path']}' of this session is missing (moved or deleted); "
                                 "the rest of the session is open.")
            continue
        saved = m.get("sha256")
        if saved and p.suffix != ".py" and file_sha256(p) != saved:
            session.notes.append(f"The model file '{m['path']}' changed since the session was saved (its SHA-256 "
                                 "differs); its codes and embeddings are computed again.")
            saved = None
        paths.append(p)
        entries.append((i, m, saved))
    added = {s.key: s for s in session.add_models(paths)}
    for (i, m, saved), p in zip(entries, paths, strict=True):
        state = added.get(str(p.resolve()))
        if state is None:
            continue
        state.saved_hash = m.get("sha256")
        state.want_spec = spec_from_dict(m.get("projection"))
        state.want_clustering = m.get("clustering")
        vr = m.get("view_range")
        if isinstance(vr, list) and len(vr) == 2 and all(isinstance(r, list) and len(r) == 2 for r in vr):
            state.want_view_range = tuple((float(a), float(b)) for a, b in vr)
        gp = m.get("gan_points") or {}
        state.gan_points = GanPoints(gp.get("source", "prior"), int(gp.get("n", 1000)))
        if m.get("slider_code") is not None:
            state.slider_code = np.asarray(m["slider_code"], np.float32)
        state.keypoints = [Keypoint(np.asarray(k["z"], np.float32), str(k.get("label", "")), k.get("dataset_index"))
                           for k in m.get("keypoints", [])]
        if results is not None and saved and i < len(results[1]["models"]) and results[1]["models"][i] \
                and results[1]["models"][i].get("sha256") == saved:
            state.results = {"arrays": results[0], "meta": results[1]["models"][i], "index": i,
                             "dataset_identity": results[1].get("dataset_identity")}
        tasks.extend(session.open_model_tasks(state))  # a cache look-up first: painted before torch loads
    active = doc.get("active")
    if active is not None:
        keys = {i: added.get(str(p.resolve())) for (i, _m, _s), p in zip(entries, paths, strict=True)}
        if keys.get(active) is not None:
            session.set_active(keys[active].key)
    selection = np.asarray(sorted(set(doc.get("selection", []))), np.int64)
    if ds is not None:
        session.pending_selection = selection
    else:
        session.selection = selection
    session.mark_dirty(False)
    return tasks


def _read_results(sd: SessionDoc, notes: list[str]):
    """The arrays and metadata of a session's results file, or None (with a note when it is unreadable)."""
    if sd.results is None:
        return None
    try:
        with np.load(sd.results, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(bytes(arrays.pop("meta")).decode("utf-8"))
        if not isinstance(meta, dict) or not isinstance(meta.get("models"), list):
            raise ValueError("no model list")
    except (OSError, ValueError, KeyError, EOFError) as exc:
        notes.append(f"The results file '{sd.results.name}' of this session cannot be read ({exc}); its "
                     "results are computed again.")
        return None
    return arrays, meta


def describe_session(sd: SessionDoc) -> dict:
    """What ``latent-explorer info S.lxs`` prints: models (with whether their hashes still match), dataset,
    projection and seed, colouring, selection size, keypoints."""
    from explorer.core.projection.cache import file_sha256

    doc, base = sd.doc, sd.base
    models = []
    for m in doc["models"]:
        p = _resolve(m["path"], base)
        if not p.is_file():
            state = "missing"
        elif m.get("sha256") and p.suffix != ".py":
            state = "matches" if file_sha256(p) == m["sha256"] else "changed"
        else:
            state = "present"
        spec = spec_from_dict(m.get("projection"))
        models.append({"path": m["path"], "resolved": str(p), "sha256": m.get("sha256"), "file": state,
                       "projection": spec.label() if spec else None, "clustering": m.get("clustering"),
                       "gan_points": m.get("gan_points"), "keypoints": len(m.get("keypoints", [])),
                       "slider_code": m.get("slider_code") is not None})
    return {"session": str(sd.path), "version": doc["version"], "dataset": doc.get("dataset"), "models": models,
            "active": doc.get("active"),
            "projection": (spec_from_dict(doc.get("projection")) or ProjectionSpec()).label(),
            "colouring": doc.get("colouring"), "selection_size": len(doc.get("selection", [])),
            "results": doc.get("results")}
