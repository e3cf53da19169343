"""Check and describe a Latent Explorer checkpoint without torch: its pickle read by a whitelist, its weights by numpy.

``latent-explorer info CKPT`` must refuse exactly what opening the file refuses (issue 14):
NaN or infinite weights, weights without data (meta tensors), missing, unexpected or
mis-shaped weights, configs that build no model, sizes beyond memory. Importing torch takes
about 2 s; this module does the same checks on the files `models.checkpoint.save_checkpoint`
writes in a few tens of milliseconds:

- the file is a ``torch.save`` zip archive holding only the records torch writes
  (``data.pkl``, ``version``, ``byteorder`` "little", ``.format_version``, ``.storage_alignment``,
  ``.data/serialization_id``, ``data/<key>``), stored uncompressed, each read with its CRC checked,
  and unpacking to no more than the available memory (`explorer.limits.memory_shortfall`);
- ``data.pkl`` is interpreted by `read_pickle`, a small pickle machine that knows only the
  opcodes of pickle protocol 2 that ``torch.save`` emits, with the semantics of torch's own
  weights-only unpickler (``torch/_weights_only_unpickler.py``) and a subset of its globals:
  ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and the storage types
  ``torch.FloatStorage``, ``DoubleStorage``, ``HalfStorage`` and ``LongStorage``. Tensors
  become inert `TensorRecord` (dtype, shape, stride, offset, storage key); nothing in the
  file is ever called or imported;
- every weight's storage is read as a little-endian numpy array after its record size
  was checked against the element count, and NaN/inf are counted with numpy;
- the weights are compared with the state dict the architecture has for the checkpoint's
  config (`models.state_shapes.expected_model`): every key present, none unexpected, the
  same shapes, floating-point numbers where the model has them; then the rest of what
  `models.checkpoint.load_checkpoint` checks (format version, kind, history, extra, image shape).

Whatever this reader cannot vouch for — an unknown global or opcode, a meta or non-contiguous
tensor, a storage that is missing or of the wrong size, a CRC error, a compressed record, an
adapter or TorchScript file, a config of an unusual form, a refusal of any kind — makes
`describe_checkpoint` return None, and the caller hands the file to the torch loader
(`models.loading.describe`), which words the refusal. So `info` refuses with the same
sentence as before, and accepts only files the torch loader accepts (tests check both).
"""

from __future__ import annotations

import logging
import math
import re
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from explorer.limits import memory_shortfall
from models.state_shapes import KINDS, ConfigNotSupported, expected_model

__all__ = ["NotChecked", "StorageRecord", "TensorRecord", "read_pickle", "read_archive", "describe_checkpoint",
           "FORMAT_VERSIONS", "STORAGE_DTYPES"]

_log = logging.getLogger(__name__)

#: Checkpoint format versions this reader checks (`models.checkpoint.FORMAT_VERSION`; tests check they agree).
FORMAT_VERSIONS = (1,)
#: ``torch.<name>`` storage types this reader accepts: numpy dtype (little-endian) and whether it is floating.
STORAGE_DTYPES = {"FloatStorage": ("<f4", True), "DoubleStorage": ("<f8", True), "HalfStorage": ("<f2", True),
                  "LongStorage": ("<i8", False)}
#: Largest ``data.pkl`` read (a checkpoint's is a few kB: the weights are separate records).
MAX_PICKLE_BYTES = 16 * 2**20
_REQUIRED_KEYS = ("format_version", "kind", "config", "state_dict")
_CODE_SUFFIXES = (".py", ".ts", ".torchscript")
#: Records of a torch.save archive besides ``data/<key>``, with the contents this reader accepts (None: any).
_RECORDS = {"data.pkl": None, "version": {b"3\n"}, "byteorder": {b"little"}, ".format_version": {b"1"},
            ".storage_alignment": None, ".data/serialization_id": None}


class NotChecked(Exception):
    """The file is not one this reader can vouch for; the torch loader must read it. The message says why."""


@dataclass(frozen=True)
class StorageRecord:
    """A storage the pickle refers to by key: ``(archive)/data/<key>``, not read yet.

    Attributes
    ----------
    key : str
        Decimal digits.
    dtype : str
        numpy dtype string, little-endian (``"<f4"``, ``"<f8"``, ``"<f2"``, ``"<i8"``).
    floating : bool
    location : str
        Device the tensor was saved from; only ``"cpu"`` is accepted.
    numel : int
        Elements in the storage.
    """

    key: str
    dtype: str
    floating: bool
    location: str
    numel: int

    @property
    def nbytes(self) -> int:
        """Bytes the record must hold: ``numel`` × the element size."""
        return self.numel * int(self.dtype[-1])


@dataclass(frozen=True)
class TensorRecord:
    """A tensor as ``torch._utils._rebuild_tensor_v2`` would build it, without data.

    Attributes
    ----------
    storage : StorageRecord
    offset : int
        Offset into the storage, in elements.
    shape : tuple of int
    stride : tuple of int
        C-contiguous for ``shape`` (anything else is refused).
    """

    storage: StorageRecord
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    @property
    def numel(self) -> int:
        """Number of elements (product of ``shape``; 1 for a scalar)."""
        return math.prod(self.shape)


class _StorageType:
    """Stand-in for ``torch.<name>Storage`` in the pickle: a name, never called."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _Rebuild:
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: REDUCE on it makes a `TensorRecord`."""

    __slots__ = ()


_REBUILD = _Rebuild()


def _contiguous(shape: tuple[int, ...]) -> tuple[int, ...]:
    out, step = [], 1
    for n in reversed(shape):
        out.append(step)
        step *= max(n, 1)
    return tuple(reversed(out))


def _tensor(args, storages: dict[str, StorageRecord]) -> TensorRecord:
    """The `TensorRecord` of ``_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``."""
    if type(args) is not tuple or len(args) != 6:
        raise NotChecked("a tensor record with other arguments than torch.save writes for plain tensors")
    storage, offset, shape, stride, requires_grad, hooks = args
    if type(storage) is not StorageRecord or type(offset) is not int or offset < 0:
        raise NotChecked("a tensor record without a storage")
    if type(shape) is not tuple or type(stride) is not tuple or len(shape) != len(stride) \
            or any(type(v) is not int or v < 0 for v in shape + stride):
        raise NotChecked("a tensor record with a malformed shape or stride")
    if requires_grad is not False or type(hooks) is not OrderedDict or hooks:
        raise NotChecked("a tensor record with gradients or hooks")
    if stride != _contiguous(shape):
        raise NotChecked("a non-contiguous tensor")
    if offset + math.prod(shape) > storage.numel:
        raise NotChecked("a tensor beyond the end of its storage")
    return TensorRecord(storage, offset, shape, stride)


def read_pickle(data: bytes) -> tuple[object, dict[str, StorageRecord]]:
    """Interpret a ``torch.save`` pickle without calling or importing anything it names.

    Implements the opcodes of pickle protocol 2 that ``torch.save`` emits for dicts, lists,
    tuples, strings, numbers, booleans, None and tensors, each with the semantics of
    torch's weights-only unpickler (``torch._weights_only_unpickler.Unpickler.load``): items
    are appended only to lists and set only in dicts; REDUCE only on ``OrderedDict()`` and on
    ``_rebuild_tensor_v2``; persistent ids only ``("storage", type, key, location, numel)``.

    Parameters
    ----------
    data : bytes
        The ``data.pkl`` record.

    Returns
    -------
    object
        The unpickled object, with `TensorRecord` for tensors.
    storages : dict of str to StorageRecord
        Every storage the pickle refers to, by key.

    Raises
    ------
    NotChecked
        On any opcode, global, persistent id or argument outside that set, a protocol other
        than 2, truncated data or a malformed stack (torch's loader then decides).
    """
    pos, n = 0, len(data)
    stack: list = []
    metastack: list[list] = []
    memo: dict[int, object] = {}
    storages: dict[str, StorageRecord] = {}

    def take(k: int) -> bytes:
        nonlocal pos
        if pos + k > n:
            raise NotChecked("the pickle is truncated")
        chunk = data[pos:pos + k]
        pos += k
        return chunk

    def line() -> str:
        nonlocal pos
        end = data.find(b"\n", pos)
        if end < 0:
            raise NotChecked("the pickle is truncated")
        text = data[pos:end].decode("utf-8")
        pos = end + 1
        return text

    def pop_mark() -> list:
        nonlocal stack
        items = stack
        stack = metastack.pop()
        return items

    if take(2) != b"\x80\x02":
        raise NotChecked("the pickle does not start with protocol 2 (what torch.save writes)")
    while True:
        op = take(1)
        if op == b".":  # STOP
            return stack.pop(), storages
        if op == b"}":  # EMPTY_DICT
            stack.append({})
        elif op == b"]":  # EMPTY_LIST
            stack.append([])
        elif op == b")":  # EMPTY_TUPLE
            stack.append(())
        elif op == b"(":  # MARK
            metastack.append(stack)
            stack = []
        elif op == b"t":  # TUPLE
            items = pop_mark()
            stack.append(tuple(items))
        elif op == b"\x85":  # TUPLE1
            stack[-1] = (stack[-1],)
        elif op == b"\x86":  # TUPLE2
            if len(stack) < 2:
                raise NotChecked("stack underflow")
            stack[-2:] = [(stack[-2], stack[-1])]
        elif op == b"\x87":  # TUPLE3
            if len(stack) < 3:
                raise NotChecked("stack underflow")
            stack[-3:] = [(stack[-3], stack[-2], stack[-1])]
        elif op == b"a":  # APPEND
            item = stack.pop()
            if type(stack[-1]) is not list:
                raise NotChecked("APPEND to something that is not a list")
            stack[-1].append(item)
        elif op == b"e":  # APPENDS
            items = pop_mark()
            if type(stack[-1]) is not list:
                raise NotChecked("APPENDS to something that is not a list")
            stack[-1].extend(items)
        elif op == b"s":  # SETITEM
            value, key = stack.pop(), stack.pop()
            if type(stack[-1]) not in (dict, OrderedDict):
                raise NotChecked("SETITEM on something that is not a dict")
            stack[-1][key] = value
        elif op == b"u":  # SETITEMS
            items = pop_mark()
            if type(stack[-1]) not in (dict, OrderedDict) or len(items) % 2:
                raise NotChecked("SETITEMS on something that is not a dict")
            for i in range(0, len(items), 2):
                stack[-1][items[i]] = items[i + 1]
        elif op == b"N":
            stack.append(None)
        elif op == b"\x88":
            stack.append(True)
        elif op == b"\x89":
            stack.append(False)
        elif op == b"K":  # BININT1
            stack.append(take(1)[0])
        elif op == b"M":  # BININT2
            stack.append(struct.unpack("<H", take(2))[0])
        elif op == b"J":  # BININT
            stack.append(struct.unpack("<i", take(4))[0])
        elif op == b"\x8a":  # LONG1
            stack.append(int.from_bytes(take(take(1)[0]), "little", signed=True))
        elif op == b"G":  # BINFLOAT
            stack.append(struct.unpack(">d", take(8))[0])
        elif op == b"X":  # BINUNICODE
            size = struct.unpack("<I", take(4))[0]
            stack.append(str(take(size), "utf-8", "surrogatepass"))
        elif op in (b"q", b"r"):  # BINPUT, LONG_BINPUT
            index = take(1)[0] if op == b"q" else struct.unpack("<I", take(4))[0]
            memo[index] = stack[-1]
        elif op in (b"h", b"j"):  # BINGET, LONG_BINGET
            index = take(1)[0] if op == b"h" else struct.unpack("<I", take(4))[0]
            if index not in memo:
                raise NotChecked("BINGET of an unknown memo entry")
            stack.append(memo[index])
        elif op == b"c":  # GLOBAL
            module, name = line(), line()
            if (module, name) == ("collections", "OrderedDict"):
                stack.append(OrderedDict)
            elif (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                stack.append(_REBUILD)
            elif module == "torch" and name in STORAGE_DTYPES:
                stack.append(_StorageType(name))
            else:
                raise NotChecked(f"the global {module}.{name}")
        elif op == b"R":  # REDUCE
            args = stack.pop()
            func = stack[-1]
            if func is OrderedDict and args == () and type(args) is tuple:
                stack[-1] = OrderedDict()
            elif func is _REBUILD:
                stack[-1] = _tensor(args, storages)
            else:
                raise NotChecked("REDUCE on something other than OrderedDict() or _rebuild_tensor_v2")
        elif op == b"Q":  # BINPERSID
            pid = stack.pop()
            if type(pid) is not tuple or len(pid) != 5 or pid[0] != "storage" or type(pid[1]) is not _StorageType \
                    or type(pid[2]) is not str or not re.fullmatch(r"[0-9]+", pid[2]) or type(pid[3]) is not str \
                    or type(pid[4]) is not int or pid[4] < 0:
                raise NotChecked("a persistent id that is not a storage record")
            dtype, floating = STORAGE_DTYPES[pid[1].name]
            record = StorageRecord(pid[2], dtype, floating, pid[3], pid[4])
            if storages.setdefault(record.key, record) != record:
                raise NotChecked(f"storage {record.key} used with two types or sizes")
            stack.append(record)
        else:
            raise NotChecked(f"the pickle opcode {op!r}")


def read_archive(path) -> tuple[object, dict[str, bytes], dict[str, StorageRecord]]:
    """Read a ``torch.save`` zip archive: its unpickled object and the bytes of every storage it refers to.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    obj : object
        As `read_pickle` returns it.
    data : dict of str to bytes
        Storage key → the record's bytes (little-endian values), each checked to hold exactly
        ``numel`` elements of its dtype and read with its CRC-32 checked.
    storages : dict of str to StorageRecord

    Raises
    ------
    NotChecked
        When the file is not a regular file, not a zip archive in the form torch.save writes
        (records besides the known ones, a compressed, encrypted or duplicated record, another
        version or byte order, records of inconsistent prefixes), would unpack beyond the
        available memory, has a storage on another device than the CPU, a storage record
        missing or of the wrong size, a CRC error, or a pickle `read_pickle` refuses.
    """
    path = Path(path)
    if not path.is_file():
        raise NotChecked("not a regular file")
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":
            raise NotChecked("not a zip archive")
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        _check_layout(path, infos, zf.start_dir)
        names = [i.filename for i in infos]
        prefix = names[0].split("/", 1)[0] + "/" if names and "/" in names[0] else None
        if prefix is None or len(set(names)) != len(names):
            raise NotChecked("the archive's records are not those of torch.save")
        records = {}
        for info in infos:
            inner = info.filename[len(prefix):] if info.filename.startswith(prefix) else None
            if inner is None or not (inner in _RECORDS or re.fullmatch(r"data/[0-9]+", inner)):
                raise NotChecked(f"the record {info.filename!r} is not one torch.save writes")
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
                raise NotChecked(f"the record {info.filename!r} is compressed or encrypted")
            records[inner] = info
        if "data.pkl" not in records or "version" not in records or "byteorder" not in records:
            raise NotChecked("the archive lacks data.pkl, version or byteorder")
        if memory_shortfall(sum(i.file_size for i in infos)):
            raise NotChecked("the archive unpacks beyond the available memory")
        for inner, allowed in _RECORDS.items():
            if allowed is not None and inner in records and (records[inner].file_size > 64
                                                             or zf.read(records[inner]) not in allowed):
                raise NotChecked(f"the record {inner} holds a value this reader does not know")
        if records["data.pkl"].file_size > MAX_PICKLE_BYTES:
            raise NotChecked("data.pkl is unusually large")
        obj, storages = read_pickle(zf.read(records["data.pkl"]))
        blobs = {}
        for key, storage in storages.items():
            info = records.get(f"data/{key}")
            if storage.location != "cpu" or info is None or info.file_size != storage.nbytes:
                raise NotChecked(f"storage {key} is missing, not on the CPU or of the wrong size")
            blobs[key] = zf.read(info)  # the size was checked against memory above; the CRC is checked here
    return obj, blobs, storages


#: Flag bits of a record torch.save writes (data descriptor 0x08, UTF-8 names 0x800); nothing else.
_ALLOWED_FLAGS = (0x0, 0x8, 0x800, 0x808)
_LOCAL = struct.Struct("<IHHHHHIIIHH")  # the 30-byte local file header
_DESCRIPTOR = struct.Struct("<IIII")  # signature, CRC-32, compressed and plain size


def _check_layout(path: Path, infos, start_dir: int) -> None:
    """Refuse an archive whose records are not laid out back to back from byte 0, as torch.save writes them.

    Python's `zipfile` is more lenient than torch's reader: it shifts every offset past bytes
    prepended to the archive, and reads a stored record up to its plain size whatever its
    compressed size says. torch refuses both; so does this check: every record starts where
    the previous one ended (the first at 0), its local header names it and agrees with the
    central directory (stored, sizes equal, the same flags and CRC, in the header or in the
    16-byte data descriptor after the data), and the central directory follows the last one.

    Raises
    ------
    NotChecked
        Any difference (the file then goes to the torch loader, which says what is wrong).
    """
    pos = 0
    with open(path, "rb") as f:
        for info in sorted(infos, key=lambda i: i.header_offset):
            name = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
            if (info.header_offset != pos or info.compress_size != info.file_size
                    or info.flag_bits not in _ALLOWED_FLAGS):
                raise NotChecked("the archive's records are not laid out as torch.save writes them")
            f.seek(pos)
            head = f.read(_LOCAL.size)
            if len(head) != _LOCAL.size:
                raise NotChecked("the archive is truncated")
            sig, _ver, flags, method, _t, _d, crc, csize, usize, nlen, elen = _LOCAL.unpack(head)
            if sig != 0x04034B50 or flags != info.flag_bits or method != 0 or f.read(nlen) != name:
                raise NotChecked(f"the local header of {info.filename!r} differs from the central directory")
            end = pos + _LOCAL.size + nlen + elen + info.file_size
            if flags & 0x8:
                f.seek(end)
                desc = f.read(_DESCRIPTOR.size)
                if len(desc) != _DESCRIPTOR.size:
                    raise NotChecked("the archive is truncated")
                dsig, crc, csize, usize = _DESCRIPTOR.unpack(desc)
                if dsig != 0x08074B50:
                    raise NotChecked(f"the data descriptor of {info.filename!r} is not torch.save's")
                end += _DESCRIPTOR.size
            if crc != info.CRC or csize != info.file_size or usize != info.file_size:
                raise NotChecked(f"the sizes or CRC of {info.filename!r} differ between its headers")
            pos = end
    if pos != start_dir:
        raise NotChecked("the archive has bytes between its records and its central directory")


def _plain(value, depth: int = 0, seen: set | None = None) -> bool:
    """Whether ``value`` is made only of dicts, lists, tuples, str, int, float, bool and None (no tensors).

    A container met again (a pickle may share one many times over) is not walked again, so
    the time is linear in the number of distinct objects, not in the paths to them.
    """
    if depth > 100:
        return False
    if value is None or type(value) in (str, int, float, bool):
        return True
    seen = set() if seen is None else seen
    if id(value) in seen:
        return True
    if type(value) in (list, tuple):
        ok = all(_plain(v, depth + 1, seen) for v in value)
    elif type(value) in (dict, OrderedDict):
        ok = all(_plain(k, depth + 1, seen) and _plain(v, depth + 1, seen) for k, v in value.items())
    else:
        return False
    if ok:
        seen.add(id(value))  # the objects live as long as the pickle's result: ids are not reused meanwhile
    return ok


def _as_int(v):
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _describe(path: Path) -> dict:
    """`describe_checkpoint`, raising `NotChecked` (or any error) where it returns None."""
    data, blobs, _ = read_archive(path)
    if type(data) is not dict or not all(k in data for k in _REQUIRED_KEYS):
        raise NotChecked("not a Latent Explorer checkpoint")
    version, kind, config, state = (data[k] for k in _REQUIRED_KEYS)
    if type(version) is not int or version not in FORMAT_VERSIONS:
        raise NotChecked(f"format version {version!r}")
    if type(kind) is not str or kind not in KINDS:
        raise NotChecked(f"kind {kind!r}")
    if not _plain({k: v for k, v in data.items() if k != "state_dict"}):
        raise NotChecked("tensors or other objects outside the state_dict")
    try:
        model = expected_model(kind, config)
    except ConfigNotSupported as e:
        raise NotChecked(f"config: {e}") from None
    if type(state) not in (dict, OrderedDict) or set(state) != set(model.state):
        raise NotChecked("missing or unexpected weights")
    import numpy as np  # here: the checks above need no numpy

    for key, want in model.state.items():
        t = state[key]
        if type(t) is not TensorRecord or t.shape != want.shape or t.storage.floating != want.floating \
                or (not want.floating and t.storage.dtype != "<i8"):
            raise NotChecked(f"weight {key!r} is not a tensor of the model's shape and kind of number")
        if want.floating:
            values = np.frombuffer(blobs[t.storage.key], dtype=t.storage.dtype, count=t.numel,
                                   offset=t.offset * np.dtype(t.storage.dtype).itemsize)
            if not np.isfinite(values).all():
                raise NotChecked(f"weight {key!r} holds NaN or infinite values")
    if memory_shortfall(model.nbytes):
        raise NotChecked("the model's weights would not fit in memory")
    history, extra = data.get("history") or {}, data.get("extra") or {}
    if not isinstance(history, dict) or not isinstance(extra, dict):
        raise NotChecked("history or extra is not a dictionary")
    if any(not isinstance(v, list) or not all(isinstance(x, (int, float)) for x in v) for v in history.values()):
        raise NotChecked("history is not lists of numbers")
    saved_shape = data.get("image_shape")
    if saved_shape is not None and (not isinstance(saved_shape, (list, tuple))
                                    or [_as_int(v) for v in saved_shape] != list(model.image_shape)):
        raise NotChecked("image_shape differs from the model's")
    info = {
        "path": str(path),
        "source": "checkpoint",
        "kind": kind,
        "latent_dim": model.latent_dim,
        "image_shape": list(model.image_shape),
        "has_encoder": model.has_encoder,
        "parameters": model.parameters,
        "networks": model.networks,
        "dataset": data.get("dataset"),
        "seed": data.get("seed"),
        "epochs": max((len(v) for v in history.values() if isinstance(v, list)), default=0),
        "history_final": {k: v[-1] for k, v in history.items() if isinstance(v, list) and v},
        "command": data.get("command"),
        "created": data.get("created"),
        "format_version": version,
        "library_version": data.get("library_version"),
        "config": config,
        "extra": extra,
    }
    return info


def describe_checkpoint(path) -> dict | None:
    """What ``latent-explorer info`` prints about a checkpoint, checked and read without torch; None: ask torch.

    Does every check `models.checkpoint.load_checkpoint` does before it accepts a file (see
    the module's docstring for how) and returns the dict `models.loading.describe` returns
    for it — the same keys, order and values. Any file it cannot vouch for, including every
    file the loader would refuse, gives None; the reason is logged at debug level.

    Parameters
    ----------
    path : str or os.PathLike
        A model file; adapters (``.py``) and TorchScript (``.ts``, ``.torchscript``) give None.

    Returns
    -------
    dict or None
        As `models.loading.describe` (``source`` "checkpoint"), or None when the torch loader
        must read the file (and accept it, or refuse it with one sentence).
    """
    path = Path(path)
    if path.suffix.lower() in _CODE_SUFFIXES:
        return None
    try:
        return _describe(path)
    except NotChecked as e:
        _log.debug("info: %s is left to the torch loader: %s", path, e)
    except Exception as e:  # noqa: BLE001 - any surprise (a damaged zip, a bad stack …): the torch loader decides
        _log.debug("info: %s is left to the torch loader: %s: %s", path, type(e).__name__, e)
    return None
