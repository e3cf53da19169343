"""The checkpoint file format: one torch file per model, loaded with ``weights_only=True`` only."""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import os
import re
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import torch
from torch import nn

from explorer.limits import MAX_IMAGE_VALUES, MAX_LATENT_DIM, memory_shortfall
from models.ali import ALI
from models.base import ModelFileError
from models.classifier import LeNetClassifier
from models.dcgan import DCGAN
from models.vae import VAE

FORMAT_VERSION = 1
MODEL_CLASSES: dict[str, type[nn.Module]] = {"vae": VAE, "gan": DCGAN, "ali": ALI}
#: Feature extractors saved in the same format (not generative models: `models.loading.load_any` refuses them).
EXTRACTOR_CLASSES: dict[str, type[nn.Module]] = {"classifier": LeNetClassifier}
_SAVABLE = {**MODEL_CLASSES, **EXTRACTOR_CLASSES}
_REQUIRED_KEYS = ("format_version", "kind", "config", "state_dict")


class CheckpointError(ModelFileError):
    """A checkpoint could not be loaded; the message is one sentence: the file, the problem, what to do."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (eval mode, CPU) and what the file says about it.

    Attributes
    ----------
    path : pathlib.Path
    model : VAE, DCGAN, ALI or LeNetClassifier
        Rebuilt from ``config`` with the saved weights, in eval mode.
    kind : {"vae", "gan", "ali", "classifier"}
    config : dict
        Constructor keyword arguments.
    image_shape : tuple of int
        ``(C, H, W)``.
    dataset : str or None
        Name of the training data set.
    seed : int or None
    history : dict of str to list of float
        Per-epoch means of the training metrics.
    command : str or None
        The command line that trained the model.
    created : str or None
        ISO 8601 time of writing.
    library_version : str or None
        Latent Explorer version that wrote the file.
    format_version : int
    extra : dict
        Further plain facts the trainer recorded (e.g. wall time, number of images).
    """

    path: Path
    model: nn.Module
    kind: str
    config: dict
    image_shape: tuple[int, int, int]
    dataset: str | None = None
    seed: int | None = None
    history: dict = field(default_factory=dict)
    command: str | None = None
    created: str | None = None
    library_version: str | None = None
    format_version: int = FORMAT_VERSION
    extra: dict = field(default_factory=dict)


def library_version() -> str:
    """Installed version of the ``latent-explorer`` distribution, or "unknown" when not installed."""
    try:
        return metadata.version("latent-explorer")
    except metadata.PackageNotFoundError:
        return "unknown"


def _plain(value):
    """Copy ``value`` as plain JSON-like types (dict/list/str/int/float/bool/None) for the weights-only loader."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return value.item()
    return value


def save_checkpoint(
    path,
    model: nn.Module,
    *,
    dataset: str | None,
    seed: int | None,
    history: dict | None = None,
    command: str | None = None,
    created: str | None = None,
    extra: dict | None = None,
) -> Path:
    """Write ``model`` and its provenance to one checkpoint file, atomically.

    The file is a ``torch.save`` of a dict holding only plain types and tensors:
    ``format_version`` (1), ``kind``, ``config`` (constructor kwargs), ``state_dict``
    (every network, discriminators included, so training can resume), ``dataset``,
    ``image_shape``, ``history``, ``seed``, ``command``, ``created`` (ISO 8601, UTC),
    ``library_version`` and ``extra``. It is written to a temporary file beside ``path`` and renamed
    over it, so a reader never sees half a file.

    Parameters
    ----------
    path : str or os.PathLike
        Target file (conventionally ``*.pt``); parent folders are created.
    model : VAE, DCGAN, ALI or LeNetClassifier
        Any module with ``kind``, ``image_shape`` and ``config()``.
    dataset : str or None
        Name of the training data set (e.g. "fashion-mnist").
    seed : int or None
        Training seed.
    history : dict of str to list of float, optional
        Per-epoch training metrics (``Trainer.history``).
    command : str, optional
        Command line that trained the model.
    created : str, optional
        ISO 8601 time; default now (UTC).
    extra : dict, optional
        Further facts in plain types (str, int, float, bool, None, lists, dicts), kept
        under the key ``extra``, e.g. ``{"wall_time_s": 61.2, "n_train": 60000}``.

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    ValueError
        If ``model.kind`` is not one this format knows.
    OSError
        If the file cannot be written (the temporary file is removed).
    """
    if getattr(model, "kind", None) not in _SAVABLE:
        raise ValueError(
            f"cannot save a model of kind {getattr(model, 'kind', None)!r}; known: {sorted(_SAVABLE)}"
        )
    path = Path(path)
    payload = {
        "format_version": FORMAT_VERSION,
        "kind": model.kind,
        "config": _plain(model.config()),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},  # CPU tensors, any device
        "dataset": dataset,
        "image_shape": list(model.image_shape),
        "history": _plain(history or {}),
        "seed": None if seed is None else int(seed),
        "command": command,
        "created": created or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "library_version": library_version(),
        "extra": _plain(extra or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")  # beside the target, usual permissions
    try:
        with open(tmp, "xb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _read(path: Path) -> object:
    """``torch.load(weights_only=True)``, with every failure turned into a one-sentence `CheckpointError`."""
    name = f"checkpoint '{path}'"
    if path.is_symlink() and not path.exists():
        raise CheckpointError(f"{name} is a symbolic link to nothing (or a loop of links); check the path.")
    if not path.exists():
        raise CheckpointError(f"{name} does not exist; check the path.")
    if path.is_dir():
        raise CheckpointError(f"{name} is a folder, not a file; choose the .pt file inside it.")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise CheckpointError(f"{name} cannot be read ({e.strerror or e}); check its permissions.") from e
    if not head:
        raise CheckpointError(
            f"{name} is empty; it was probably not saved completely — save or copy it again."
        )
    numpy_kind = _numpy_kind(path, head)
    if numpy_kind:
        raise CheckpointError(f"{name} is a {numpy_kind}, probably a dataset, not a model; give it with --data "
                              "(or open it as the dataset).")
    short = memory_shortfall(_unzipped_size(path)) if head == b"PK\x03\x04" else None
    if short:  # a compressed record inflates while torch reads it: refuse before that
        raise CheckpointError(f"{name} holds records that unpack to {short}; it is damaged or not a checkpoint.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises RuntimeError, EOFError, KeyError, … for damaged files
        # the weights-only unpickler refuses an object that needs code by naming its GLOBAL
        found = re.search(r"GLOBAL (\S+)", str(e))
        if found:
            what = found.group(1).rstrip(".,")
            raise CheckpointError(
                f"{name} contains pickled Python objects that need code to load ({what}), so it was "
                "refused and nothing in it was executed; if you trust it, export the model as "
                "TorchScript or wrap it in a Python adapter instead."
            ) from None
        error = e
    if head == b"PK\x03\x04" or (head[:1] == b"\x80" and isinstance(error, EOFError)):
        raise CheckpointError(
            f"{name} is truncated or corrupt (it starts like a PyTorch file but cannot be read); "
            "save or copy it again."
        ) from None
    raise CheckpointError(
        f"{name} is not a PyTorch checkpoint (unrecognised file contents); choose a .pt file "
        "saved by Latent Explorer."
    ) from None


def _unzipped_size(path: Path) -> int:
    """Sum of the uncompressed sizes a zip file's directory announces (0 when it cannot be read)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return sum(info.file_size for info in zf.infolist())
    except (OSError, EOFError, ValueError, zipfile.BadZipFile):  # ValueError: a damaged name (UnicodeDecodeError)
        return 0


def _numpy_kind(path: Path, head: bytes) -> str | None:
    """"NumPy array (.npy)" / "NumPy archive (.npz)" when the file is one, else None."""
    import zipfile

    if head == b"\x93NUM":
        return "NumPy array (.npy)"
    if head != b"PK\x03\x04":
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (OSError, EOFError, ValueError, zipfile.BadZipFile):  # ValueError: a damaged name (UnicodeDecodeError)
        return None
    if names and all(n.endswith(".npy") for n in names):
        return "NumPy archive (.npz)"
    return None


def _check_state_dict(name: str, kind: str, model: nn.Module, state: dict) -> None:
    """Raise a `CheckpointError` listing a few missing / unexpected keys and shape mismatches."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {_shape(state[k])} in the file vs {_shape(expected[k])} in the model"
        for k in expected
        if k in state and (not isinstance(state[k], torch.Tensor) or state[k].shape != expected[k].shape)
    ]
    if not (missing or unexpected or shapes):
        return
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)):
        if items:
            more = f" and {len(items) - 3} more" if len(items) > 3 else ""
            parts.append(f"{label}: {', '.join(items[:3])}{more}")
    raise CheckpointError(
        f"{name} has weights that do not fit its {kind} config ({'; '.join(parts)}); "
        "re-save it from the model that was trained."
    )


def _shape(t) -> str:
    return "×".join(map(str, t.shape)) if isinstance(t, torch.Tensor) else type(t).__name__


def load_checkpoint(path) -> Checkpoint:
    """Load a checkpoint written by `save_checkpoint`, never executing code from the file.

    Reads with ``torch.load(path, map_location="cpu", weights_only=True)``, rebuilds the
    model from ``kind`` and ``config``, loads its weights and puts it in eval mode.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Checkpoint

    Raises
    ------
    CheckpointError
        With a one-sentence message naming the file, the problem and what to do, when the
        file is missing, empty, not a torch file, truncated or corrupt, a torch file that
        is not a Latent Explorer checkpoint (e.g. a bare state_dict), of an unknown kind,
        of a newer format version, has a config that builds no model, has weights that do
        not fit the config, or holds pickled objects that would need code to load
        (refused by torch's weights-only unpickler, never executed).
    """
    path = Path(path)
    name = f"checkpoint '{path}'"
    data = _read(path)
    if not isinstance(data, dict) or not all(k in data for k in _REQUIRED_KEYS):
        if isinstance(data, dict) and data and all(isinstance(v, torch.Tensor) for v in data.values()):
            raise CheckpointError(
                f"{name} is a bare state_dict (weights only, with no model kind or config); "
                "wrap the model in a Python adapter, or save it with models.checkpoint.save_checkpoint."
            )
        raise CheckpointError(
            f"{name} is a PyTorch file but not a Latent Explorer checkpoint (it lacks the keys "
            f"{', '.join(_REQUIRED_KEYS)}); wrap the model in a Python adapter instead."
        )
    version = data["format_version"]
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{name} has an invalid format version {version!r}; save it again.")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{name} was written by a newer Latent Explorer (format {version}; this version reads "
            f"format {FORMAT_VERSION}) — upgrade Latent Explorer to open it."
        )
    kind = data["kind"]
    if not isinstance(kind, str) or kind not in _SAVABLE:
        raise CheckpointError(
            f"{name} holds a model of unknown kind {_short(kind)} (this version knows "
            f"{', '.join(_SAVABLE)}); upgrade Latent Explorer or wrap the model in a Python adapter."
        )
    config = data["config"]
    state = data["state_dict"]
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise CheckpointError(f"{name} has a malformed config or state_dict; save it again.")
    _check_config_sizes(name, config)
    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"):  # shapes only: nothing is allocated
            shell = _SAVABLE[kind](**config)
    except (TypeError, ValueError, OverflowError) as e:
        raise CheckpointError(
            f"{name} has a config that does not build a {kind} model ({_one_line(e)}); save it again."
        ) from None
    _check_state_dict(name, kind, shell, state)
    _check_weights(name, shell, state)
    need = sum(t.numel() * t.element_size() for t in shell.state_dict().values())
    short = memory_shortfall(need)
    if short:
        raise CheckpointError(f"{name} has a {kind} config whose weights would need {short}; "
                              "open it on a machine with more memory.")
    history, extra = data.get("history") or {}, data.get("extra") or {}
    for field_name, value in (("history", history), ("extra", extra)):
        if not isinstance(value, dict):
            raise CheckpointError(f"{name} has a '{field_name}' that is a {type(value).__name__}, not a "
                                  "dictionary; save the checkpoint again.")
    if any(not isinstance(v, list) or not all(isinstance(x, (int, float)) for x in v) for v in history.values()):
        raise CheckpointError(f"{name} has a training 'history' that is not lists of numbers; "
                              "save the checkpoint again.")
    try:
        with torch.random.fork_rng(devices=[]):  # building initialises weights: keep the caller's RNG
            model = _SAVABLE[kind](**config)
    except (TypeError, ValueError) as e:
        raise CheckpointError(
            f"{name} has a config that does not build a {kind} model ({_one_line(e)}); save it again."
        ) from None
    model.load_state_dict(state)
    model.eval()
    model.label = name  # how messages about what the model computes name it (models.base.model_label)
    saved_shape = data.get("image_shape")
    if saved_shape is not None and (not isinstance(saved_shape, (list, tuple))
                                    or [_as_int(v) for v in saved_shape] != list(model.image_shape)):
        raise CheckpointError(f"{name} records an image_shape {_short(saved_shape)} that is not its model's "
                              f"{list(model.image_shape)}; save the checkpoint again.")
    image_shape = tuple(model.image_shape)
    return Checkpoint(
        path=path,
        model=model,
        kind=kind,
        config=config,
        image_shape=image_shape,
        dataset=data.get("dataset"),
        seed=data.get("seed"),
        history=history,
        command=data.get("command"),
        created=data.get("created"),
        library_version=data.get("library_version"),
        format_version=version,
        extra=extra,
    )


def _as_int(v):
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _short(value) -> str:
    """``repr(value)`` of at most 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_config_sizes(name: str, config: dict) -> None:
    """Refuse a ``latent_dim`` or ``image_shape`` larger than any model this program can hold, naming the field."""
    d = config.get("latent_dim")
    if isinstance(d, (int, float)) and not isinstance(d, bool) and d > MAX_LATENT_DIM:
        raise CheckpointError(f"{name} has a config latent_dim of {d:,} (at most {MAX_LATENT_DIM:,} is "
                              "supported); the file is damaged or not from a model that fits in memory.")
    shape = config.get("image_shape")
    if isinstance(shape, (list, tuple)) and all(_as_int(v) is not None for v in shape):
        if math.prod(max(int(v), 0) for v in shape) > MAX_IMAGE_VALUES:
            raise CheckpointError(f"{name} has a config image_shape of {_short(shape)} (at most "
                                  f"{MAX_IMAGE_VALUES:,} values per image are supported); the file is damaged.")
    for key, value in config.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, int) and not isinstance(v, bool) and v > 2**31 for v in values):
            raise CheckpointError(f"{name} has a config {key} of {_short(value)}, too large for any model; "
                                  "the file is damaged.")


def _check_weights(name: str, shell: nn.Module, state: dict) -> None:
    """Refuse weights without data (meta), of another kind of number (complex, integer), or NaN/inf."""
    expected = shell.state_dict()
    bad_finite, n_bad = [], 0
    for key, t in state.items():
        if t.is_meta or t.layout != torch.strided:
            raise CheckpointError(f"{name} holds weights without data ('{key}' is a {t.device.type} "
                                  f"{str(t.layout).removeprefix('torch.')} tensor); save it from the trained model.")
        want = expected[key].dtype
        if t.is_complex() or t.dtype.is_floating_point != want.is_floating_point:
            raise CheckpointError(f"{name} holds '{key}' as {str(t.dtype).removeprefix('torch.')} numbers where "
                                  f"the model has {str(want).removeprefix('torch.')}; save it from the trained model.")
        if t.dtype.is_floating_point:
            n = int(t.numel() - torch.isfinite(t).sum())
            if n:
                n_bad += n
                bad_finite.append(key)
    if n_bad:
        more = f" and {len(bad_finite) - 2} more" if len(bad_finite) > 2 else ""
        raise CheckpointError(
            f"{name} has {n_bad:,} NaN or infinite weights (in {', '.join(bad_finite[:2])}{more}); its training "
            "diverged — use an earlier checkpoint or train again."
        )


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split()).rstrip(".")
