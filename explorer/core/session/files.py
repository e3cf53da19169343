"""Session files (``.lxs``): a :class:`~explorer.core.session.Session` as versioned JSON, and its results ``.npz``.

The schema is documented in ``docs/session-format.md``. Nothing is unpickled: the JSON is
parsed with :mod:`json` and the companion arrays with ``numpy.load(allow_pickle=False)``.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.core.export import atomic_write
from explorer.core.session.panel_settings import PANEL_GROUPS
from explorer.core.session.results import results_arrays, spec_to_dict
from explorer.core.session.schema import Plan, SessionFileError, parse_document
from explorer.core.session.state import ModelState

__all__ = ["FORMAT", "VERSION", "SUFFIX", "SessionFileError", "SessionDoc", "session_document", "save_session",
           "read_session", "restore_session", "results_path", "describe_session"]

#: The ``"format"`` value of every session file.
FORMAT = "latent-explorer-session"
#: The schema version this code writes and reads.
VERSION = 1
#: File-name ending of session files.
SUFFIX = ".lxs"
#: Largest session file read (bytes): the JSON holds settings, never arrays of results.
MAX_BYTES = 64 * 1024 * 1024


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
    ds = session.dataset_spec or session.requested_dataset  # asked for, even if it could not be read here
    if ds is None:
        return None
    from explorer.data.named import DATASET_NAMES

    spec, kind = ds.spec, "name"
    if spec.lower() not in DATASET_NAMES:
        spec, kind = _rel(Path(spec), base), "path"
    return {"kind": kind, "spec": spec, "split": ds.split, "limit": ds.limit, "seed": ds.seed, "resize": ds.resize,
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
        "directions": None if m.directions is None else m.directions.to_dict(),
        "attribute_sets": None if m.attribute_sets is None else m.attribute_sets.to_dict(),
    }


def session_document(session, path: str | os.PathLike, with_results: bool = False) -> dict:
    """The JSON document of ``session`` as it would be saved at ``path`` (paths relative to its folder).

    Parameters
    ----------
    session : Session
    path : path-like
        Where the ``.lxs`` file goes (relative paths are written against its folder).
    with_results : bool
        Name the companion results file.

    Returns
    -------
    dict
        The document of ``docs/session-format.md``, JSON-ready.
    """
    base = Path(path).resolve().parent
    active = next((i for i, m in enumerate(session.models) if m.key == session.active_key), None)
    c = session.clustering_settings
    return {
        "format": FORMAT,
        "version": VERSION,
        "dataset": _dataset_entry(session, base),
        "models": [_model_entry(m, base) for m in session.models]
        + [{**entry, "path": _rel(p, base)} for p, entry in session.missing_models],  # kept, not lost
        "active": active,
        "colouring": {"mode": session.colour.mode, "dim": session.colour.dim},
        "marker": {"size": session.marker[0], "opacity": session.marker[1]},
        "selection": [int(i) for i in (session.selection if session.dataset is not None or
                                       session.pending_selection is None else session.pending_selection)],
        "projection": spec_to_dict(session.projection),
        "clustering": {"space": c.space, "k": c.k, "seed": c.seed, "sweep": list(c.sweep)},
        "interpolation": dict(sorted(session.settings.get("interpolation", {}).items())),
        "traversal": dict(sorted(session.settings.get("traversal", {}).items())),
        "reconstruction": dict(sorted(session.settings.get("reconstruction", {}).items())),
        **{group: _panel_entry(session.settings.get(group, {}), base) for group in PANEL_GROUPS},
        "compare": _compare_entry(session),
        "evaluations": [{"model": i, **ev.to_dict()} for i, m in enumerate(session.models)
                        for ev in m.evaluations.values()],
        "results": results_path(path).name if with_results else None,
    }


def _panel_entry(values: dict, base: Path) -> dict:
    """A judging panel's settings; a feature-extractor file relative to the session file, like the models."""
    out = dict(sorted(values.items()))
    if out.get("extractor", "classifier") != "classifier":
        out["extractor"] = _rel(Path(out["extractor"]), base)
    return out


def _compare_entry(session) -> dict:
    """The Compare view's settings, models named by their position in ``"models"``."""
    pos = {m.key: i for i, m in enumerate(session.models)}
    cmp = session.compare
    return {"on": bool(session.compare_mode), "models": [pos[k] for k in cmp.keys if k in pos],
            "align": cmp.align, "colour_model": pos.get(cmp.colour_key) if cmp.colour_key else None}


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
    session.path, session.with_results = path, bool(with_results)
    session.mark_dirty(False)
    return path


@dataclass
class SessionDoc:
    """A session file read and checked: ``doc`` (the JSON), ``plan`` (its checked values), where it is,
    and its results file if any."""

    path: Path
    doc: dict
    results: Path | None
    plan: Plan

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
    """Read and check a session file, every field of it (no model or dataset is opened).

    Parameters
    ----------
    path : path-like
        A ``.lxs`` file.

    Returns
    -------
    SessionDoc

    Raises
    ------
    SessionFileError
        Missing, not a regular file, too large, not JSON (e.g. truncated), not a session file,
        a newer version, or a field of the wrong type or range — one sentence naming the file.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc})") from None
    _need(stat.S_ISREG(st.st_mode), path, "is not a file (a folder or a device?)")
    _need(st.st_size <= MAX_BYTES, path, f"is {st.st_size / 2**20:.0f} MiB; a session file is a few KiB of JSON")
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _fail(path, f"is not valid JSON (it may be truncated): {exc}") from None
    except RecursionError:
        raise _fail(path, "is nested too deeply to be a session file") from None
    _need(isinstance(doc, dict) and doc.get("format") == FORMAT, path,
          f"is not a Latent Explorer session (no \"format\": \"{FORMAT}\")")
    version = doc.get("version")
    _need(isinstance(version, int) and not isinstance(version, bool), path, "has no integer \"version\"")
    _need(version <= VERSION, path,
          f"was written by a newer Latent Explorer (session format version {version}; this one reads up to "
          f"{VERSION}); update Latent Explorer to open it")
    plan = parse_document(doc, path, version)
    return SessionDoc(path=path, doc=doc, plan=plan,
                      results=(path.resolve().parent / plan.results) if plan.results else None)


def restore_session(session, sd: SessionDoc) -> list:
    """Put a read session file into an empty ``session`` (see :meth:`Session.reset`); return the tasks that load it.

    Parameters
    ----------
    session : Session
    sd : SessionDoc
        From :func:`read_session` (every value already checked).

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

    plan, base = sd.plan, sd.base
    session.path, session.with_results = sd.path, sd.results is not None
    session.notes = []
    session.restoring = True
    session.clustering_settings = plan.clustering
    session.projection = plan.projection
    session.colour = plan.colour
    session.marker = plan.marker
    session.settings = {group: dict(values) for group, values in plan.settings.items()}
    sq = session.settings.get("sample_quality", {})
    if sq.get("extractor", "classifier") != "classifier":
        sq["extractor"] = os.path.normpath(_resolve(sq["extractor"], base))
    results = _read_results(sd, session.notes)
    tasks = []
    ds = plan.dataset
    if ds is not None:
        spec = str(_resolve(ds["spec"], base)) if ds["kind"] == "path" else ds["spec"]
        tasks.append(session.open_dataset(spec, ds["split"], ds["limit"], ds["seed"], ds.get("resize")))
        session.saved_dataset_id = ds["identity"]
    paths, entries = [], []
    for i, m in enumerate(plan.models):
        p = _resolve(m.path, base)
        if not p.is_file():
            session.notes.append(f"The model file '{m.path}' of this session is missing (moved or deleted); "
                                 "the rest of the session is open, and saving keeps its entry.")
            session.missing_models.append((p.resolve(), dict(sd.doc["models"][i])))
            continue
        saved = m.sha256
        if saved and p.suffix != ".py" and file_sha256(p) != saved:
            session.notes.append(f"The model file '{m.path}' changed since the session was saved (its SHA-256 "
                                 "differs); its codes and embeddings are computed again.")
            saved = None
        paths.append(p)
        entries.append((i, m, saved))
    added = {s.key: s for s in session.add_models(paths)}
    states = {}
    for (i, m, saved), p in zip(entries, paths, strict=True):
        state = added.get(str(p.resolve()))
        if state is None:
            continue
        states[i] = state
        state.saved_hash = m.sha256
        state.want_spec, state.want_view_range, state.want_clustering = m.projection, m.view_range, m.clustering
        state.gan_points, state.slider_code, state.keypoints = m.gan_points, m.slider_code, list(m.keypoints)
        state.directions = m.directions
        state.attribute_sets = m.attribute_sets
        if results is not None and saved:
            state.results = {"file": results, "index": i, "sha256": saved}
        tasks.extend(session.open_model_tasks(state))  # a cache look-up first: painted before torch loads
    if plan.active is not None and plan.active in states:
        session.set_active(states[plan.active].key)
    cmp = plan.compare
    session.compare_mode = cmp["on"]
    session.set_compare([states[i].key for i in cmp["models"] if i in states], cmp["align"],
                        states[cmp["colour_model"]].key if cmp["colour_model"] in states else None)
    session.compare_changed.emit()
    unchanged = {i for i, m, saved in entries if saved or not m.sha256}
    for pos, ev in plan.evaluations:
        if pos in states and pos in unchanged:
            session.set_evaluation(states[pos].key, ev)
        elif pos in states:
            session.notes.append(f"The {ev.family.replace('_', ' ')} evaluation of '{plan.models[pos].path}' is left "
                                 "out: the model file changed since it was computed.")
    if ds is not None:
        session.pending_selection = plan.selection
    else:
        session.selection = plan.selection
    for group in ("projection", "clustering", *plan.settings):  # the panels show what was restored
        session.settings_changed.emit(group)
    session.colouring_changed.emit()
    session.marker_changed.emit()
    session.mark_dirty(False)
    return tasks


def _read_results(sd: SessionDoc, notes: list[str]):
    """The session's results file opened (its metadata read and checked), or None with a note."""
    from explorer.core.session.results import ResultsFile

    if sd.results is None:
        return None
    try:
        return ResultsFile(sd.results)
    except ValueError as exc:
        notes.append(f"The results file '{sd.results.name}' of this session cannot be used ({exc}); its results "
                     "are computed again.")
        return None


def describe_session(sd: SessionDoc) -> dict:
    """What ``latent-explorer info S.lxs`` prints, as a dict: the models (path, SHA-256 and whether the file is
    ``"missing"``, ``"matches"``, ``"changed"`` or ``"present"``), dataset, projection, colouring, selection size."""
    from explorer.core.projection.cache import file_sha256

    plan, base = sd.plan, sd.base
    models = []
    for m in plan.models:
        p = _resolve(m.path, base)
        if not p.is_file():
            state = "missing"
        elif m.sha256 and p.suffix != ".py":
            state = "matches" if file_sha256(p) == m.sha256 else "changed"
        else:
            state = "present"
        models.append({"path": m.path, "resolved": str(p), "sha256": m.sha256, "file": state,
                       "projection": m.projection.label() if m.projection else None, "clustering": m.clustering,
                       "gan_points": {"source": m.gan_points.source, "n": m.gan_points.n},
                       "keypoints": len(m.keypoints), "slider_code": m.slider_code is not None})
    return {"session": str(sd.path), "version": plan.version, "dataset": plan.dataset, "models": models,
            "active": plan.active, "projection": plan.projection.label(),
            "colouring": {"mode": plan.colour.mode, "dim": plan.colour.dim}, "selection_size": len(plan.selection),
            "results": plan.results}
