"""models.checkpoint_reader: torch-free checks agree with the torch loader — same description, never more accepting."""

from __future__ import annotations

import io
import os
import pathlib
import pickle
import random
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch

import resources
from models.base import ModelFileError
from models.checkpoint import FORMAT_VERSION, save_checkpoint
from models.checkpoint_reader import (
    FORMAT_VERSIONS,
    STORAGE_DTYPES,
    NotChecked,
    StorageRecord,
    TensorRecord,
    describe_checkpoint,
    read_archive,
    read_pickle,
)
from models.classifier import LeNetClassifier
from models.loading import describe

from .conftest import tiny_model

DEMOS = sorted(resources.path("checkpoints").glob("*.pt"))


def _torch_describe(path):
    """What `info` said before this reader: the full loader's description, or its one-sentence refusal."""
    try:
        return describe(path)
    except ModelFileError as e:
        return ModelFileError(str(e))


def _agree(path) -> dict | None:
    """The reader's answer is None or exactly the loader's; when the loader refuses, the reader answers None."""
    fast = describe_checkpoint(path)
    slow = _torch_describe(path)
    if isinstance(slow, Exception):
        assert fast is None, f"the reader accepted {path}, which the loader refuses: {slow}"
    elif fast is not None:
        assert fast == slow and list(fast) == list(slow)
    return fast


def _save_tiny(tmp_path, kind="vae", name="m.pt", **kw) -> pathlib.Path:
    if kind == "classifier":
        torch.manual_seed(0)
        model = LeNetClassifier((1, 8, 8), 3, num_features=4, widths=(2, 3), class_names=["a", "b", "c"])
    else:
        model = tiny_model(kind, kw.pop("shape", (1, 28, 28)), **kw)
    return save_checkpoint(tmp_path / name, model, dataset="synthetic", seed=1, history={"loss": [2.0, 1.0]},
                           command="latent-explorer train", extra={"n_train": 10})


def _rewrite(src: pathlib.Path, dst: pathlib.Path, change=None, compression=zipfile.ZIP_STORED) -> pathlib.Path:
    """Copy a torch.save archive record by record (valid CRCs), ``change(name, bytes)`` giving new bytes or None."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=compression) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            new = change(info.filename, data) if change else data
            if new is not None:
                zout.writestr(info.filename, new)
    return dst


def _payload(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


# ----------------------------------------------------------------------------- the same answers


@pytest.mark.parametrize("path", DEMOS, ids=[p.name for p in DEMOS])
def test_bundled_checkpoints_are_described_exactly_as_the_loader_does(path):
    assert _agree(path) is not None


@pytest.mark.parametrize(("kind", "kw"), [("vae", {}), ("vae", {"shape": (3, 64, 64)}), ("gan", {}),
                                          ("gan", {"shape": (1, 8, 8)}), ("ali", {}), ("ali", {"dropout": 0.0}),
                                          ("classifier", {})])
def test_tiny_checkpoints_of_every_kind_are_described_as_the_loader_does(tmp_path, kind, kw):
    assert _agree(_save_tiny(tmp_path, kind, **kw)) is not None


def test_the_format_and_storage_types_are_the_loaders():
    assert FORMAT_VERSION in FORMAT_VERSIONS and max(FORMAT_VERSIONS) == FORMAT_VERSION
    for name, (dtype, floating) in STORAGE_DTYPES.items():
        want = torch.serialization.StorageType(name).dtype  # what torch.load gives the weights-only unpickler
        assert np.dtype(dtype).itemsize == torch.empty(0, dtype=want).element_size()
        assert floating == want.is_floating_point and np.dtype(dtype).byteorder in "<="


def test_the_pickle_machine_rebuilds_what_torch_load_rebuilds():
    payload = {"a": [1, -2, 3.5, 2**70, -(2**40), None, True, False, "zé\u2603", ("t",), (1, 2), (1, 2, 3), ()],
               "b": OrderedDict(x=1, y=[{}]), 7: {"nested": {"deep": [[], [[]]]}},
               "t": torch.arange(6, dtype=torch.float32).reshape(2, 3), "n": torch.tensor(3),
               "h": torch.zeros(4, dtype=torch.float16), "d": torch.ones(1, 2, dtype=torch.float64)}
    payload["shared"] = payload["a"]  # memoised twice
    buf = io.BytesIO()
    torch.save(payload, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        obj, storages = read_pickle(zf.read("archive/data.pkl"))
    loaded = torch.load(io.BytesIO(buf.getvalue()), weights_only=True)
    tensors = {k: obj.pop(k) for k in ("t", "n", "h", "d")}
    assert obj == {k: v for k, v in loaded.items() if k not in tensors}
    assert obj["shared"] is obj["a"] and type(obj["b"]) is OrderedDict
    for k, rec in tensors.items():
        assert isinstance(rec, TensorRecord) and isinstance(rec.storage, StorageRecord)
        assert rec.shape == tuple(loaded[k].shape) and rec.storage.location == "cpu"
        assert rec.stride == loaded[k].stride() and rec.offset == loaded[k].storage_offset()
        assert np.dtype(rec.storage.dtype).itemsize == loaded[k].element_size()
        assert rec.storage.floating == loaded[k].is_floating_point()
    assert set(storages) == {r.storage.key for r in tensors.values()}


def test_storage_values_and_offsets_are_read_as_torch_reads_them(tmp_path):
    base = torch.linspace(-3, 3, 20, dtype=torch.float32)
    path = tmp_path / "views.pt"
    torch.save({"whole": base, "tail": base[5:], "row": base.reshape(4, 5)[2]}, path)
    obj, blobs, storages = read_archive(path)
    assert len(storages) == 1  # one storage, three views of it
    for key, t in _payload(path).items():
        rec = obj[key]
        values = np.frombuffer(blobs[rec.storage.key], rec.storage.dtype, rec.numel, rec.offset * 4).reshape(rec.shape)
        np.testing.assert_array_equal(values, t.numpy())


# ----------------------------------------------------------------------------- never more accepting


class _Touch:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.target),))


class _System:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


@pytest.mark.parametrize("payload", [_Touch, _System])
def test_a_malicious_pickle_is_not_executed_and_left_to_the_loader(tmp_path, payload):
    target = tmp_path / "pwned"
    model = tiny_model("vae")
    path = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "kind": "vae", "config": model.config(),
                "state_dict": dict(model.state_dict()), "dataset": payload(target)}, path)
    with pytest.raises(NotChecked, match="global"):
        read_archive(path)
    assert _agree(path) is None and not target.exists()


def _pickle_with(tail: bytes) -> bytes:
    return b"\x80\x02" + tail


@pytest.mark.parametrize(("data", "why"), [
    (_pickle_with(b"]K\x01K\x02s."), "SETITEM on something"),  # a list as if it were a dict: torch refuses too
    (_pickle_with(b"}(K\x01e."), "APPENDS to something"),
    (_pickle_with(b"cbuiltins\nset\n)R."), "global builtins.set"),
    (_pickle_with(b"ccollections\nOrderedDict\n(]tR."), "REDUCE"),  # OrderedDict([]) : not what torch.save writes
    (b"\x80\x04K\x01.", "protocol 2"),
    (_pickle_with(b"\x8c\x01a."), "opcode"),  # SHORT_BINUNICODE: protocol 4
    (_pickle_with(b"X\xff\x00\x00\x00ab."), "truncated"),
    (_pickle_with(b"h\x05."), "memo"),
    (_pickle_with(b"(X\x04\x00\x00\x00fileK\x01tQ."), "persistent id"),
])
def test_the_pickle_machine_refuses_what_it_does_not_know(data, why):
    with pytest.raises(NotChecked, match=why):
        read_pickle(data)


def test_setitem_on_a_list_is_refused_by_torch_as_well():
    """The case a plain pickle.Unpickler would accept but torch's weights-only unpickler refuses."""
    buf = io.BytesIO()
    torch.save([0, 0], buf)
    raw = buf.getvalue()
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        pkl = zf.read("archive/data.pkl")
    assert pkl.endswith(b".")
    hacked = pkl[:-1] + b"K\x00K\x07s."  # list[0] = 7 by SETITEM
    assert pickle.loads(hacked) == [7, 0]  # plain pickle accepts it
    from torch._weights_only_unpickler import Unpickler

    with pytest.raises(pickle.UnpicklingError):
        Unpickler(io.BytesIO(hacked)).load()
    with pytest.raises(NotChecked):
        read_pickle(hacked)


def test_weights_that_torch_accepts_but_this_reader_does_not_vouch_for_go_to_the_loader(tmp_path):
    """A non-contiguous weight loads in torch; the reader leaves it to torch, and info's answer is the same."""
    path = _save_tiny(tmp_path)
    payload = _payload(path)
    key = "encoder.2.weight"
    payload["state_dict"][key] = payload["state_dict"][key].t().contiguous().t()
    torch.save(payload, path)
    assert describe_checkpoint(path) is None and not isinstance(_torch_describe(path), Exception)


def test_weights_in_another_float_type_and_nan_outside_the_view_are_accepted_as_by_torch(tmp_path):
    path = _save_tiny(tmp_path)
    payload = _payload(path)
    state = payload["state_dict"]
    state["encoder.2.weight"] = state["encoder.2.weight"].double()
    state["encoder.4.bias"] = state["encoder.4.bias"].half()
    w = state["decoder.0.bias"]
    big = torch.cat([torch.tensor([float("nan")]), w])  # NaN in the storage, not in the tensor
    state["decoder.0.bias"] = big[1:]
    torch.save(payload, path)
    assert _agree(path) is not None
    state["decoder.0.bias"] = torch.cat([w[:-1], torch.tensor([float("inf")])])
    torch.save(payload, path)
    assert _agree(path) is None


@pytest.mark.parametrize("change", ["short_storage", "long_storage", "missing_storage", "compressed", "big_endian",
                                    "extra_record", "no_byteorder", "crc", "torchscript_like"])
def test_archives_of_an_unusual_form_are_left_to_the_loader(tmp_path, change):
    good = _save_tiny(tmp_path)
    bad = tmp_path / "bad.pt"
    edits = {
        "short_storage": lambda n, d: d[:-4] if n.endswith("data/0") else d,
        "long_storage": lambda n, d: d + b"\0" * 4 if n.endswith("data/0") else d,
        "missing_storage": lambda n, d: None if n.endswith("data/1") else d,
        "big_endian": lambda n, d: b"big" if n.endswith("byteorder") else d,
        "no_byteorder": lambda n, d: None if n.endswith("byteorder") else d,
    }
    if change == "compressed":
        _rewrite(good, bad, compression=zipfile.ZIP_DEFLATED)
    elif change == "extra_record":
        _rewrite(good, bad)
        with zipfile.ZipFile(bad, "a") as zf:
            zf.writestr("archive/extra.txt", b"x")
    elif change == "torchscript_like":
        _rewrite(good, bad)
        with zipfile.ZipFile(bad, "a") as zf:
            zf.writestr("archive/code/__torch__.py", b"")
            zf.writestr("archive/constants.pkl", b"\x80\x02).")
    elif change == "crc":
        raw = bytearray(good.read_bytes())
        with zipfile.ZipFile(good) as zf:
            info = zf.getinfo("archive/data/0")
        start = info.header_offset + 30 + len(info.filename.encode()) + int.from_bytes(
            raw[info.header_offset + 28:info.header_offset + 30], "little")
        raw[start] ^= 0x40
        bad.write_bytes(bytes(raw))
    else:
        _rewrite(good, bad, edits[change])
    with pytest.raises((NotChecked, zipfile.BadZipFile)):
        read_archive(bad)
    assert _agree(bad) is None
    assert _agree(_rewrite(good, tmp_path / "copy.pt")) is not None  # the plain copy is fine


def test_mutated_pickles_are_never_accepted_where_the_loader_refuses(tmp_path):
    """Random byte changes of data.pkl (valid archives otherwise): the reader answers None or exactly the loader."""
    good = _save_tiny(tmp_path, "gan", shape=(1, 8, 8))
    with zipfile.ZipFile(good) as zf:
        pkl = zf.read("archive/data.pkl")
    rng = random.Random(0)
    accepted = refused_by_both = 0
    for i in range(120):
        data = bytearray(pkl)
        for _ in range(rng.choice([1, 1, 2])):
            data[rng.randrange(2, len(data))] = rng.choice([rng.randrange(256), 0, 1, 0x7F, 0x80, 0xFF])
        path = _rewrite(good, tmp_path / f"m{i}.pt",
                        lambda n, d, data=bytes(data): data if n.endswith("data.pkl") else d)
        fast = _agree(path)
        accepted += fast is not None
        refused_by_both += fast is None and isinstance(_torch_describe(path), Exception)
        path.unlink()
    assert accepted > 0 and refused_by_both > 0  # both sides of the comparison were exercised


def _header_positions(path: pathlib.Path) -> list[int]:
    """Byte positions of every local header, data descriptor and central-directory entry of a torch.save file."""
    raw = path.read_bytes()
    out = []
    for sig, size in ((b"PK\x03\x04", 30), (b"PK\x07\x08", 16), (b"PK\x01\x02", 46), (b"PK\x05\x06", 22)):
        start = raw.find(sig)
        while start >= 0:
            out.extend(range(start, min(start + size, len(raw))))
            start = raw.find(sig, start + 1)
    return sorted(set(out))


def test_a_misstated_record_size_or_bytes_before_the_archive_go_to_the_loader(tmp_path):
    """Python's zipfile reads both; torch's reader refuses both — so must the torch-free reader."""
    good = pathlib.Path(resources.path("checkpoints", "vae_fashion.pt"))
    raw = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("archive/data/0")
        central = zf.start_dir + raw[zf.start_dir:].find(b"archive/data/0") - 46
    size_at = central + 20  # the central directory's compressed size of archive/data/0
    raw[size_at:size_at + 4] = (info.compress_size + 7).to_bytes(4, "little")
    misstated = tmp_path / "size.pt"
    misstated.write_bytes(bytes(raw))
    prefixed = tmp_path / "prefixed.pt"
    prefixed.write_bytes(b"PK\x03\x04" + bytes(60) + good.read_bytes())
    for path in (misstated, prefixed):
        with zipfile.ZipFile(path) as zf:
            zf.read("archive/data.pkl")  # Python's zipfile opens it …
        assert isinstance(_torch_describe(path), Exception)  # … the loader refuses it …
        assert describe_checkpoint(path) is None  # … and the reader does not vouch for it


def test_mutated_zip_headers_are_never_accepted_where_the_loader_refuses(tmp_path):
    """Random byte changes in every local header, data descriptor and central-directory entry."""
    good = _save_tiny(tmp_path, "vae", shape=(1, 8, 8))
    positions = _header_positions(good)
    raw = good.read_bytes()
    rng = random.Random(1)
    accepted = refused = 0
    for i in range(150):
        data = bytearray(raw)
        at = rng.choice(positions)
        data[at] = (data[at] + rng.choice([1, 7, 128, 255])) % 256
        path = tmp_path / f"z{i}.pt"
        path.write_bytes(bytes(data))
        fast = _agree(path)
        accepted += fast is not None
        refused += fast is None
        path.unlink()
    assert accepted > 0 and refused > 0


def test_a_pickle_sharing_one_list_many_times_is_walked_once_per_object():
    """2**60 paths to the same few lists: walked per object, this returns at once (per path it never would)."""
    from models.checkpoint_reader import _plain

    x: list = [1.0]
    for _ in range(60):
        x = [x, x]
    assert _plain({"extra": x}) is True
    assert _plain({"extra": [x, object()]}) is False
