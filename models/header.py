"""Describe a Latent Explorer checkpoint without importing torch: read its pickle with a whitelist, tensors as shapes.

``latent-explorer info CKPT`` wants the kind, config, training record and parameter counts;
importing torch alone takes 1.5–2 s, reading the header takes milliseconds. Anything this
reader does not recognise gives None, and the caller falls back to the full loader
(`models.loading.describe`), which also words every error.
"""

from __future__ import annotations

import math
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

__all__ = ["describe_checkpoint_header", "read_checkpoint_header", "TensorInfo", "HAS_ENCODER",
           "HEADER_FORMAT_VERSIONS"]

#: Whether each checkpoint kind has an encoder q(z|x) (the ``has_encoder`` of models.vae.VAE,
#: models.dcgan.DCGAN, models.ali.ALI; tests/models/test_header.py checks they agree).
HAS_ENCODER = {"vae": True, "gan": False, "ali": True}
#: Checkpoint format versions this reader understands (models.checkpoint.FORMAT_VERSION and older).
HEADER_FORMAT_VERSIONS = (1,)
#: Bytes per element of the storage classes torch.save writes.
_ITEMSIZE = {"FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
             "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1}
#: Buffers (not parameters) of the layers our models use: left out of the parameter counts.
_BUFFER_SUFFIXES = (".running_mean", ".running_var", ".num_batches_tracked")
#: Largest pickle read (the header of a checkpoint is a few kB; its weights are separate entries).
_MAX_PICKLE_BYTES = 64 * 2**20
_NETWORKS = ("encoder", "decoder", "generator", "discriminator")
_REQUIRED_KEYS = ("format_version", "kind", "config", "state_dict")


class _Unsupported(Exception):
    """Something in the file this light reader does not handle (the full loader decides)."""


class TensorInfo:
    """A tensor of the checkpoint seen from its pickle: shape and storage, no data read.

    Attributes
    ----------
    shape : tuple of int
    numel : int
        Number of elements (product of ``shape``).
    storage : tuple
        ``(storage class name, zip entry key, element count)``.
    """

    def __init__(self, storage, offset, shape, stride, *rest):
        if not isinstance(storage, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise _Unsupported("unexpected tensor record")
        self.storage = storage
        self.shape = tuple(int(s) for s in shape)
        self.numel = math.prod(self.shape)


class _StorageClass:
    def __init__(self, name: str):
        self.name = name


class _HeaderUnpickler(pickle.Unpickler):
    """Rebuilds dicts, lists, numbers and strings; tensors become `TensorInfo`; anything else is refused."""

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return TensorInfo
        if module == "torch" and name in _ITEMSIZE:
            return _StorageClass(name)
        raise _Unsupported(f"{module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageClass)
                and isinstance(pid[2], str) and isinstance(pid[4], int)):
            raise _Unsupported("unexpected storage record")
        return (pid[1].name, pid[2], pid[4])


def read_checkpoint_header(path) -> dict | None:
    """The checkpoint's top-level dict with tensors as `TensorInfo`, or None when this reader cannot say.

    Checks that the zip archive is intact (CRC of every entry) and that every storage the
    pickle names is present with the size its element count needs.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict or None
        None for anything but an intact, uncompressed ``torch.save`` zip archive whose pickle holds only
        dicts, lists, tuples, numbers, strings and float/int/bool tensors.
    """
    path = Path(path)
    try:
        if not path.is_file() or not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            if any(i.compress_type != zipfile.ZIP_STORED for i in infos.values()):
                return None  # torch.save stores entries uncompressed; anything else is for the full loader's checks
            pkl = [n for n in infos if n.endswith("/data.pkl") and n.count("/") == 1]
            if len(pkl) != 1 or infos[pkl[0]].file_size > _MAX_PICKLE_BYTES:
                return None
            prefix = pkl[0][: -len("data.pkl")]
            if zf.testzip() is not None:
                return None
            with zf.open(pkl[0]) as f:
                data = _HeaderUnpickler(f).load()
            storages = set()
            for value in (data.get("state_dict") or {}).values() if isinstance(data, dict) else ():
                if isinstance(value, TensorInfo):
                    storages.add(value.storage)
            for cls, key, count in storages:
                entry = infos.get(f"{prefix}data/{key}")
                if entry is None or entry.file_size < count * _ITEMSIZE[cls]:
                    return None
    except (_Unsupported, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError, ValueError, TypeError,
            KeyError, AttributeError, IndexError):
        return None
    return data if isinstance(data, dict) else None


def describe_checkpoint_header(path) -> dict | None:
    """What ``latent-explorer info`` prints about a checkpoint, read without torch (None: use the full loader).

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``models.checkpoint.save_checkpoint``.

    Returns
    -------
    dict or None
        The same keys and values as `models.loading.describe` for that file (parameter
        counts from the tensor shapes: every ``state_dict`` entry but BatchNorm running
        statistics), or None when the file is anything else or anything unusual — a
        kind, format version or layout this reader does not know; the full loader then
        reads it (and words its errors).
    """
    data = read_checkpoint_header(path)
    if data is None or not all(k in data for k in _REQUIRED_KEYS):
        return None
    kind, config, state = data["kind"], data["config"], data["state_dict"]
    version = data["format_version"]
    if (kind not in HAS_ENCODER or version not in HEADER_FORMAT_VERSIONS or not isinstance(config, dict)
            or not isinstance(state, dict) or not all(isinstance(v, TensorInfo) for v in state.values())):
        return None
    latent_dim = config.get("latent_dim")
    image_shape = config.get("image_shape") or data.get("image_shape")  # the model is built from config
    if not isinstance(latent_dim, int) or not isinstance(image_shape, (list, tuple)) or len(image_shape) != 3:
        return None
    networks: dict[str, int] = {}
    total = 0
    for name, t in state.items():
        if not isinstance(name, str) or name.endswith(_BUFFER_SUFFIXES):
            continue
        total += t.numel
        head = name.split(".", 1)[0]
        if head in _NETWORKS:
            networks[head] = networks.get(head, 0) + t.numel
    history = data.get("history") or {}
    return {
        "path": str(path),
        "source": "checkpoint",
        "kind": kind,
        "latent_dim": int(latent_dim),
        "image_shape": [int(s) for s in image_shape],
        "has_encoder": HAS_ENCODER[kind],
        "parameters": total,
        "networks": networks,
        "dataset": data.get("dataset"),
        "seed": data.get("seed"),
        "epochs": max((len(v) for v in history.values() if isinstance(v, list)), default=0),
        "history_final": {k: v[-1] for k, v in history.items() if isinstance(v, list) and v},
        "command": data.get("command"),
        "created": data.get("created"),
        "format_version": version,
        "library_version": data.get("library_version"),
        "config": config,
        "extra": data.get("extra") or {},
    }
