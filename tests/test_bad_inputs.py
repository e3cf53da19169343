"""A corpus of bad inputs (made here, in tmp_path) through the CLI and the window's open paths.

Every case must end with a non-zero exit, no traceback, at most three lines on stderr naming the
file or argument, no output file (nor a temporary one beside it) and no changed user file.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.cli import main
from models.checkpoint import save_checkpoint
from models.vae import VAE

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A folder with one good tiny checkpoint (VAE, d = 2, 8×8 like scikit-learn's digits)."""
    root = tmp_path_factory.mktemp("corpus")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = VAE(2, (1, 8, 8), hidden=16, channels=[4])
    save_checkpoint(root / "good.pt", model, dataset="digits", seed=0, history={"loss": [1.0]})
    return root


def _payload(corpus: Path) -> dict:
    return torch.load(corpus / "good.pt", weights_only=True)


def _files(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*")
            if p.is_file() and not p.is_symlink()}


def refused(argv: list[str], capsys, named: str | list[str], *, outputs=(), watch: Path | None = None,
            status: int | None = None) -> str:
    """Run ``latent-explorer argv`` in-process and check that it refused the input as the house rules say."""
    before = _files(watch) if watch is not None else None
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse refused an argument (explorer.cli.args.Parser: two lines)
        code = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0, f"exit 0 for {argv}: {err}"
    if status is not None:
        assert code == status
    assert "Traceback" not in err and 'File "' not in err, err
    assert 1 <= len(lines) <= 3, f"{len(lines)} lines on stderr:\n{err}"
    for name in [named] if isinstance(named, str) else named:
        assert name in err, f"{name!r} not named in: {err}"
    for out in outputs:
        out = Path(out)
        assert not out.exists(), f"{out} was written"
        if out.parent.is_dir():
            assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")], "temporary left"
    if watch is not None:
        assert _files(watch) == before, "a user file changed"
    return err


# ----------------------------------------------------------------------------- bad checkpoints

def _kind_list(p):
    p["kind"] = ["vae"]


def _kind_unknown(p):
    p["kind"] = "flow"


def _history_str(p):
    p["history"] = "loss went down"


def _history_values(p):
    p["history"] = {"loss": "low"}


def _extra_list(p):
    p["extra"] = [1, 2]


def _shape_letters(p):
    p["image_shape"] = ["a", "b", "c"]


def _shape_other(p):
    p["image_shape"] = [3, 64, 64]


def _config_letters(p):
    p["config"]["image_shape"] = ["x", 8, 8]


def _latent_huge(p):
    p["config"]["latent_dim"] = 10**9


def _hidden_huge(p):
    p["config"]["hidden"] = 10**12


def _image_huge(p):
    p["config"]["image_shape"] = [1, 2**20, 2**20]


def _config_list(p):
    p["config"] = [2, 8]


def _state_missing(p):
    p["state_dict"].pop(next(iter(p["state_dict"])))


def _state_meta(p):
    p["state_dict"] = {k: torch.empty(v.shape, device="meta") for k, v in p["state_dict"].items()}


def _state_complex(p):
    p["state_dict"] = {k: v.to(torch.complex64) for k, v in p["state_dict"].items()}


def _state_int(p):
    p["state_dict"] = {k: v.to(torch.int32) for k, v in p["state_dict"].items()}


def _state_nan(p):
    k = next(k for k, v in p["state_dict"].items() if v.is_floating_point())
    p["state_dict"][k] = torch.full_like(p["state_dict"][k], float("nan"))


def _state_inf(p):
    k = [k for k, v in p["state_dict"].items() if v.is_floating_point()][-1]
    p["state_dict"][k][..., 0] = float("inf")


def _version_str(p):
    p["format_version"] = "1"


def _version_new(p):
    p["format_version"] = 99


def _pickled(p):
    p["extra"] = {"args": argparse.Namespace(lr=1)}


CHECKPOINT_CHANGES = [_kind_list, _kind_unknown, _history_str, _history_values, _extra_list, _shape_letters,
                      _shape_other, _config_letters, _latent_huge, _hidden_huge, _image_huge, _config_list,
                      _state_missing, _state_meta, _state_complex, _state_int, _state_nan, _state_inf,
                      _version_str, _version_new, _pickled]


@pytest.mark.parametrize("change", CHECKPOINT_CHANGES, ids=lambda f: f.__name__.strip("_"))
def test_changed_checkpoint_is_refused_by_info(corpus, tmp_path, capsys, change):
    payload = _payload(corpus)
    change(payload)
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    refused(["info", bad], capsys, "bad.pt", watch=tmp_path, status=2)


@pytest.mark.parametrize("change", [_state_nan, _latent_huge, _kind_list, _state_meta],
                         ids=lambda f: f.__name__.strip("_"))
def test_changed_checkpoint_is_refused_by_evaluate_and_render(corpus, tmp_path, capsys, change):
    payload = _payload(corpus)
    change(payload)
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    out = tmp_path / "out"
    out.mkdir()
    refused(["evaluate", bad, "--data", "digits", "--limit", "50", "--json", out / "e.json"], capsys, "bad.pt",
            outputs=[out / "e.json"], watch=tmp_path)
    refused(["render", "traversal", bad, "--out", out / "t.png"], capsys, "bad.pt", outputs=[out / "t.png"])
    refused(["render", "reconstructions", bad, "--data", "digits", "--limit", "20", "--out", out / "r.png"],
            capsys, "bad.pt", outputs=[out / "r.png"])


def _raw_files(root: Path, corpus: Path) -> dict[str, Path]:
    """Files that are not checkpoints at all, or only half of one."""
    good = (corpus / "good.pt").read_bytes()
    files = {"empty.pt": b"", "text.pt": b"not a checkpoint at all\n", "zip.pt": b"PK\x03\x04broken zip",
             "half.pt": good[: len(good) // 2], "pickle.pt": b"\x80\x04K\x01."}
    out = {}
    for name, data in files.items():
        (root / name).write_bytes(data)
        out[name] = root / name
    np.savez(root / "dataset.npz", images=np.zeros((4, 8, 8), np.uint8))
    out["dataset.npz"] = root / "dataset.npz"
    np.save(root / "array.npy", np.zeros((4, 8, 8), np.uint8))
    out["array.npy"] = root / "array.npy"
    torch.save({k: v for k, v in _payload(corpus)["state_dict"].items()}, root / "bare.pt")
    out["bare.pt"] = root / "bare.pt"
    (root / "folder.pt").mkdir()
    out["folder.pt"] = root / "folder.pt"
    (root / "x.py").mkdir()
    out["x.py"] = root / "x.py"
    os.symlink("loop.pt", root / "loop.pt")
    out["loop.pt"] = root / "loop.pt"
    out["missing.pt"] = root / "missing.pt"
    return out


def test_files_that_are_no_checkpoint_are_refused(corpus, tmp_path, capsys):
    files = _raw_files(tmp_path, corpus)
    for name, path in files.items():
        err = refused(["info", path], capsys, name, watch=tmp_path)
        if name.startswith(("dataset", "array")):
            assert "NumPy" in err and "dataset" in err
        if name == "x.py":
            assert "folder" in err
        if name == "loop.pt":
            assert "loop" in err


def test_dataset_given_as_model_in_evaluate(corpus, tmp_path, capsys):
    files = _raw_files(tmp_path, corpus)
    err = refused(["evaluate", files["dataset.npz"], "--data", "digits", "--limit", "30"], capsys, "dataset.npz")
    assert "NumPy archive" in err


# ----------------------------------------------------------------------------- bad adapters

GOOD_ADAPTER = """
import torch

class M:
    kind, latent_dim, image_shape = "vae", 2, (1, 8, 8)
    def decode(self, z):
        return torch.full((z.shape[0], 1, 8, 8), 0.5)
    def encode(self, x):
        return x.flatten(1)[:, :2]

def load_model():
    return M()
"""

ADAPTERS = {
    "syntax": "def load_model(:\n",
    "raises": "raise RuntimeError('no weights here')\n",
    "exits": "import sys\nsys.exit(3)\n",
    "no_load_model": "x = 1\n",
    "load_model_raises": "def load_model():\n    raise KeyError('w.pt')\n",
    "load_model_exits": "import sys\ndef load_model():\n    sys.exit('bye')\n",
    "no_decode": GOOD_ADAPTER.replace("def decode", "def not_decode"),
    "bad_kind": GOOD_ADAPTER.replace('"vae", 2', '"flow", 2'),
    "huge_latent": GOOD_ADAPTER.replace('"vae", 2', '"vae", 10**9'),
    "huge_image": GOOD_ADAPTER.replace("(1, 8, 8)\n", "(3, 10**6, 10**6)\n"),
    "letters_shape": GOOD_ADAPTER.replace("(1, 8, 8)\n", "('a', 'b', 'c')\n"),
    "wrong_shape": GOOD_ADAPTER.replace("(z.shape[0], 1, 8, 8)", "(z.shape[0], 1, 4, 4)"),
    "nan_decode": GOOD_ADAPTER.replace("0.5)", "float('nan'))"),
    "inf_decode": GOOD_ADAPTER.replace("0.5)", "float('inf'))"),
    "range_decode": GOOD_ADAPTER.replace("0.5)", "255.0)"),
    "nan_encode": GOOD_ADAPTER.replace("x.flatten(1)[:, :2]", "x.flatten(1)[:, :2] * float('nan')"),
    "exit_decode": GOOD_ADAPTER.replace("return torch.full(", "import sys; sys.exit(0); return torch.full("),
    "list_decode": GOOD_ADAPTER.replace("return torch.full((z.shape[0], 1, 8, 8), 0.5)", "return [0.5]"),
}


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_bad_adapter_is_refused(tmp_path, capsys, name):
    path = tmp_path / f"{name}.py"
    path.write_text(ADAPTERS[name])
    refused(["info", path], capsys, f"{name}.py", watch=tmp_path, status=2)


def test_adapter_whose_decode_gives_nan_later_writes_no_figure(tmp_path, capsys):
    path = tmp_path / "nan_far.py"  # finite for the load-time probe (|z| < 2.5), NaN at ±3σ of the traversal
    path.write_text(GOOD_ADAPTER.replace(
        "return torch.full((z.shape[0], 1, 8, 8), 0.5)",
        "return torch.full((z.shape[0], 1, 8, 8), 0.5) * torch.where(z.abs().max() < 2.5, 1.0, float('nan'))"))
    assert main(["info", str(path)]) == 0
    capsys.readouterr()
    for out in (tmp_path / "t.png", tmp_path / "t.gif"):
        err = refused(["render", "traversal", path, "--out", out, "--dims", "0"], capsys, "nan_far.py",
                      outputs=[out])
        assert "NaN" in err


RAISING_TS = """
from typing import List
import torch

class Raising(torch.nn.Module):
    latent_dim: int
    image_shape: List[int]

    def __init__(self):
        super().__init__()
        self.latent_dim = 2
        self.image_shape = [1, 8, 8]

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if bool(z.abs().sum() >= 0):
            raise RuntimeError("decoder weights are missing")
        return torch.zeros(z.shape[0], 1, 8, 8)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z)
"""


def _scripted(tmp_path: Path, name: str, monkeypatch) -> Path:
    """A TorchScript file whose decode raises (scripting needs the source in a file)."""
    import importlib
    import warnings

    (tmp_path / "raising_ts_mod.py").write_text(RAISING_TS)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("raising_ts_mod")
    path = tmp_path / name
    with warnings.catch_warnings():  # torch ≥ 2.10 flags TorchScript as deprecated; exporting is the user's
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(module.Raising()), str(path))
    return path


def test_torchscript_whose_decode_raises_is_one_sentence(tmp_path, capsys, monkeypatch):
    path = _scripted(tmp_path, "raises.ts", monkeypatch)
    err = refused(["info", path], capsys, "raises.ts")
    assert "decoder weights are missing" in err and "interpreter" not in err
    renamed = tmp_path / "raises.pt"
    path.rename(renamed)
    err = refused(["info", renamed], capsys, "raises.pt")
    assert "TorchScript" in err


def test_not_torchscript_named_ts(tmp_path, capsys):
    (tmp_path / "x.ts").write_bytes(b"hello")
    refused(["info", tmp_path / "x.ts"], capsys, "x.ts")


# ----------------------------------------------------------------------------- bad datasets


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _header_bytes(shape, dtype) -> bytes:
    """The .npy header (format 1.0) of an array of ``shape`` and ``dtype``, without its data."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)})
    return out.getvalue()


def _idx(shape, data: bytes, dtype_code: int = 0x08) -> bytes:
    head = bytes([0, 0, dtype_code, len(shape)]) + b"".join(int(d).to_bytes(4, "big") for d in shape)
    return head + data


def _bad_datasets(root: Path) -> dict[str, Path]:
    """Dataset files and folders that must be refused with a sentence naming them."""
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (6, 8, 8), dtype=np.uint8)
    d: dict[str, Path] = {}
    d["empty_n.npz"] = _npz(root / "empty_n.npz", images=np.zeros((0, 8, 8), np.uint8))
    d["one_image.npz"] = _npz(root / "one_image.npz", images=imgs[:1])
    d["size_zero.npz"] = _npz(root / "size_zero.npz", images=np.zeros((5, 0, 0), np.uint8))
    d["one_pixel.npz"] = _npz(root / "one_pixel.npz", images=np.zeros((5, 1, 1), np.uint8))
    d["objects.npz"] = root / "objects.npz"
    with zipfile.ZipFile(d["objects.npz"], "w") as zf:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
        zf.writestr("images.npy", buf.getvalue())
    d["garbage_member.npz"] = root / "garbage_member.npz"
    with zipfile.ZipFile(d["garbage_member.npz"], "w") as zf:
        zf.writestr("images.npy", b"this is not an array at all")
    d["truncated_member.npz"] = root / "truncated_member.npz"
    with zipfile.ZipFile(d["truncated_member.npz"], "w") as zf:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, imgs)
        zf.writestr("images.npy", buf.getvalue()[:-100])
    good = io.BytesIO()
    np.savez(good, images=imgs)
    (root / "truncated.npz").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    d["truncated.npz"] = root / "truncated.npz"
    d["huge_member.npz"] = root / "huge_member.npz"
    with zipfile.ZipFile(d["huge_member.npz"], "w") as zf:
        zf.writestr("images.npy", _header_bytes((400_000, 1024, 1024), "<f4") + b"\0" * 64)  # 1.5 TiB
    d["huge.npy"] = root / "huge.npy"
    d["huge.npy"].write_bytes(_header_bytes((400_000, 1024, 1024), "|u1") + b"\0" * 64)
    d["text.npy"] = root / "text.npy"
    d["text.npy"].write_text("1 2 3\n")
    d["no_images.npz"] = _npz(root / "no_images.npz", pixels=imgs)
    d["labels_length.npz"] = _npz(root / "labels_length.npz", images=imgs, labels=np.arange(3))
    d["labels_negative.npz"] = _npz(root / "labels_negative.npz", images=imgs, labels=-np.ones(6, int))
    d["labels_fraction.npz"] = _npz(root / "labels_fraction.npz", images=imgs, labels=np.full(6, 0.5))
    d["nan_pixels.npz"] = _npz(root / "nan_pixels.npz", images=np.full((4, 8, 8), np.nan, np.float32))
    d["wide_ints.npz"] = _npz(root / "wide_ints.npz", images=np.full((4, 8, 8), 1000, np.int32))
    d["complex.npz"] = _npz(root / "complex.npz", images=np.zeros((4, 8, 8), np.complex64))
    d["five_d.npz"] = _npz(root / "five_d.npz", images=np.zeros((4, 2, 8, 8, 2), np.uint8))
    # IDX files
    for name, data in {
        "bad-magic-idx3-ubyte": b"\x01\x02\x03\x04" + b"\0" * 100,
        "trunc-images-idx3-ubyte": _idx((10, 8, 8), b"\0" * 100),
        "extra-images-idx3-ubyte": _idx((2, 8, 8), b"\0" * 200),
        "claims-images-idx3-ubyte": _idx((60000, 60000, 60000), b"\0" * 100),
        "header-images-idx3-ubyte": bytes([0, 0, 8, 3, 0, 0]),
        "labels2d-images-idx3-ubyte": _idx((2, 8), b"\0" * 16),
    }.items():
        (root / name).write_bytes(data)
        d[name] = root / name
    (root / "damaged-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx((4, 8, 8), b"\0" * 256))[:-30])
    d["damaged-images-idx3-ubyte.gz"] = root / "damaged-images-idx3-ubyte.gz"
    folder = root / "mismatch"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte").write_bytes(_idx((4, 8, 8), b"\0" * 256))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(_idx((3,), b"\0" * 3))
    d["mismatch"] = folder
    # image folders
    ps = root / "postscript" / "cats"
    ps.mkdir(parents=True)
    (ps / "a.png").write_bytes(b"%!PS-Adobe-3.0\n/Helvetica findfont 12 scalefont setfont\nshowpage\n")
    (ps / "b.png").write_bytes(b"%!PS-Adobe-3.0\nshowpage\n")
    d["postscript"] = root / "postscript"
    tr = root / "truncated_png" / "dogs"
    tr.mkdir(parents=True)
    from PIL import Image

    for i in range(2):
        Image.fromarray(imgs[i]).save(tr / f"{i}.png")
    (tr / "1.png").write_bytes((tr / "1.png").read_bytes()[:40])
    d["truncated_png"] = root / "truncated_png"
    (root / "no_images" / "sub").mkdir(parents=True)
    (root / "no_images" / "sub" / "readme.txt").write_text("nothing")
    d["no_images"] = root / "no_images"
    single = root / "single_image" / "a"
    single.mkdir(parents=True)
    Image.fromarray(imgs[0]).save(single / "0.png")
    d["single_image"] = root / "single_image"
    os.symlink("loop_data", root / "loop_data")
    d["loop_data"] = root / "loop_data"
    d["missing_data.npz"] = root / "missing_data.npz"
    return d


def test_bad_datasets_through_evaluate(corpus, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    bad = _bad_datasets(data)
    assert len(bad) >= 33
    out = tmp_path / "e.json"
    for name, path in bad.items():
        err = refused(["evaluate", corpus / "good.pt", "--data", path, "--json", out], capsys, name,
                      outputs=[out], watch=data, status=2)
        if name.startswith("huge") or name.startswith("claims"):
            assert "memory" in err and "damaged" not in err
        assert f"('{path}" not in err, err  # one sentence, not one wrapped in another
        if name in ("garbage_member.npz", "truncated_member.npz"):
            assert "Python objects" not in err
        if name == "objects.npz":
            assert "Python objects" in err


@pytest.mark.parametrize("name", ["one_image.npz", "postscript", "huge.npy", "empty_n.npz", "loop_data"])
def test_bad_datasets_through_train_and_render(corpus, tmp_path, capsys, name):
    data = tmp_path / "data"
    data.mkdir()
    path = _bad_datasets(data)[name]
    ckpt = tmp_path / "kept.pt"
    ckpt.write_bytes((corpus / "good.pt").read_bytes())
    refused(["train", "vae", "--data", path, "--latent-dim", "2", "--epochs", "1", "--out", ckpt], capsys, name,
            watch=tmp_path)
    out = tmp_path / "r.png"
    refused(["render", "reconstructions", ckpt, "--data", path, "--out", out], capsys, name, outputs=[out],
            watch=data)


def test_gzipped_idx_bomb_is_refused_before_it_is_inflated(tmp_path, capsys, monkeypatch):
    """40 MB of zeros gzipped to ~40 KB; with 8 MiB of memory allowed it is refused, nothing is inflated."""
    from explorer.data.idx import read_idx
    from explorer.errors import DatasetError

    path = tmp_path / "bomb-images-idx3-ubyte.gz"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(_idx((10_000, 64, 64), b""))
        block = b"\0" * (64 * 64 * 100)
        for _ in range(100):
            f.write(block)
    assert path.stat().st_size < 200_000
    with pytest.raises(DatasetError, match="memory"):
        read_idx(path, max_bytes=8 * 2**20)
    monkeypatch.setenv("LATENT_EXPLORER_MEMORY_LIMIT", "8M")
    refused(["evaluate", tmp_path / "nothing.pt", "--data", path], capsys, "bomb-images-idx3-ubyte.gz")
    monkeypatch.setenv("LATENT_EXPLORER_MEMORY_LIMIT", "1G")
    assert read_idx(path).shape == (10_000, 64, 64)  # allowed, it is read, only as far as the header says


def test_image_folder_beyond_memory_is_refused_while_reading(tmp_path, capsys, monkeypatch):
    from PIL import Image

    folder = tmp_path / "big" / "class_a"
    folder.mkdir(parents=True)
    for i in range(4):
        Image.new("RGB", (512, 512), (i, 0, 0)).save(folder / f"{i}.png")  # 512·512·3·9 bytes ≈ 7 MiB each
    monkeypatch.setenv("LATENT_EXPLORER_MEMORY_LIMIT", "16M")
    err = refused(["evaluate", tmp_path / "nothing.pt", "--data", tmp_path / "big"], capsys, "big",
                  watch=tmp_path)
    assert "memory" in err and "--limit" in err


def test_sparse_labels_are_named_by_the_values_that_occur(tmp_path):
    from explorer.data import load_dataset

    labels = np.array([0, 2**31 - 1, 0, 7, 2**31 - 1, 7])
    ds = load_dataset(_npz(tmp_path / "sparse.npz", images=np.zeros((6, 8, 8), np.uint8), labels=labels))
    assert ds.class_names == ("0", "7", str(2**31 - 1))
    np.testing.assert_array_equal(ds.labels, [0, 2, 0, 1, 2, 1])
    assert any("renumbered" in n or "numbered" in n for n in ds.notes)
    dense = load_dataset(_npz(tmp_path / "dense.npz", images=np.zeros((3, 8, 8), np.uint8), labels=[0, 9, 3]))
    assert dense.class_names == tuple(str(i) for i in range(10)) and list(dense.labels) == [0, 9, 3]


# ----------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("args, named", [
    (["--beta", "nan"], "--beta"),
    (["--beta", "inf"], "--beta"),
    (["--beta", "-1"], "--beta"),
    (["--beta", "lots"], "--beta"),
    (["--latent-dim", "1000000000"], "--latent-dim"),
    (["--latent-dim", "0"], "--latent-dim"),
    (["--epochs", "-2"], "--epochs"),
    (["--limit", "0"], "--limit"),
    (["--seed", "x"], "--seed"),
    (["--likelihood", "poisson"], "--likelihood"),
])
def test_bad_train_arguments_keep_the_good_checkpoint(corpus, tmp_path, capsys, args, named):
    out = tmp_path / "model.pt"
    out.write_bytes((corpus / "good.pt").read_bytes())
    argv = ["train", "vae", "--data", "digits", "--limit", "40", "--latent-dim", "2", "--epochs", "1",
            "--out", out, *args]
    err = refused(argv, capsys, [named, "latent-explorer train: error:"], watch=tmp_path, status=2)
    assert "usage:" not in err


def test_diverging_training_keeps_the_good_checkpoint(corpus, tmp_path, capsys):
    out = tmp_path / "model.pt"
    out.write_bytes((corpus / "good.pt").read_bytes())
    err = refused(["train", "vae", "--data", "digits", "--limit", "40", "--latent-dim", "2", "--epochs", "1",
                   "--beta", "1e308", "--out", out], capsys, ["diverged", "model.pt"], watch=tmp_path)
    assert "nothing was written" in err


@pytest.mark.parametrize("args, named", [
    (["render", "traversal", "{ckpt}", "--out", "{out}/t.png", "--scale", "nan"], "--scale"),
    (["render", "traversal", "{ckpt}", "--out", "{out}/t.png", "--scale", "1e9"], "--scale"),
    (["render", "traversal", "{ckpt}", "--out", "{out}/t.gif", "--fps", "inf"], "--fps"),
    (["render", "traversal", "{ckpt}", "--out", "{out}/t.png", "--cols", "1000000000"], "--cols"),
    (["render", "interpolation", "{ckpt}", "--out", "{out}/i.gif", "--frames", "1000000000"], "--frames"),
    (["render", "interpolation", "{ckpt}", "--out", "{out}/i.gif", "--scale", "-4"], "--scale"),
    (["render", "traversal", "{ckpt}", "--out", "{out}/t.png", "--cols", "1000", "--scale", "32", "--dims", "0", "1"],
     "--cols/--scale"),
    (["render", "traversal", "{ckpt}", "--out", "{out}/t.gif", "--frames", "10000", "--scale", "32"],
     "--frames/--scale"),
    (["render", "reconstructions", "{ckpt}", "--data", "digits", "--out", "{out}/r.png", "--scale", "inf"],
     "--scale"),
    (["render", "embedding", "{out}/s.lxs", "--out", "{out}/e.png", "--scale", "nan"], "--scale"),
    (["evaluate", "{ckpt}", "--data", "digits", "--json", "{out}/missing/e.json"], "missing"),
    (["evaluate", "{ckpt}", "--data", "digits", "--json", "{out}/file.txt/e.json"], "file.txt"),
    (["evaluate", "{ckpt}", "--data", "digits", "--json", "{out}"], "--json"),
    (["render", "traversal", "{ckpt}", "--out", "{out}/no/t.png"], "--out"),
    (["train", "vae", "--data", "digits", "--latent-dim", "2", "--epochs", "1", "--out", "{out}/no/m.pt"], "--out"),
    (["session", "create", "{ckpt}", "--data", "digits", "--out", "{out}/no/s.lxs"], "--out"),
    (["evaluate", "{ckpt}", "--data", "dsprites", "--limit", "1000000000000"], "dSprites"),
    (["evaluate", "{ckpt}", "--metrics", "beauty"], "--metrics"),
    (["evaluate", "{ckpt}", "--data", "digits", "--limit", "20", "--k", "500"], "--k 500"),
    (["info"], "latent-explorer info: error:"),
    (["render"], "latent-explorer render: error:"),
    (["evaluate", "{ckpt}", "--frobnicate"], "--frobnicate"),
])
def test_bad_arguments_are_two_lines_before_any_work(corpus, tmp_path, capsys, monkeypatch, args, named):
    monkeypatch.setenv("LATENT_EXPLORER_MEMORY_LIMIT", "256M")  # what a render may hold
    (tmp_path / "file.txt").write_text("a user file")
    argv = [a.format(ckpt=corpus / "good.pt", out=tmp_path) for a in args]
    err = refused(argv, capsys, named, watch=tmp_path)
    assert "usage:" not in err
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1  # only file.txt


# ----------------------------------------------------------------------------- the window's open paths


def test_window_open_paths_give_one_sentence(corpus, tmp_path):
    """What File ▸ Open model / Open dataset call (the session's tasks), with the files of the corpus."""
    from explorer.core.session import Session
    from explorer.errors import UserError
    from models.base import ModelFileError

    models = _raw_files(tmp_path, corpus)
    data_root = tmp_path / "data"
    data_root.mkdir()
    datasets = _bad_datasets(data_root)
    s = Session(use_workers=False)
    s.run(s.open_dataset("digits", limit=30))
    for name, path in models.items():
        (m,) = s.add_models([path])
        with pytest.raises((ModelFileError, UserError)) as info:
            for task in s.open_model_tasks(m, peek=False):
                s.run(task)
        text = str(info.value)
        assert name in text and "\n" not in text and len(text) < 400
    for name, path in datasets.items():
        with pytest.raises(UserError) as info:
            s.run(s.open_dataset(path))
        assert name in str(info.value) and "\n" not in str(info.value)
    s.close()


def test_zipped_checkpoint_that_would_unpack_beyond_memory_is_refused(tmp_path, capsys, monkeypatch):
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data/0", b"\0" * (20 * 2**20))  # 20 MiB of zeros, about 20 KiB on disk
    assert path.stat().st_size < 200_000
    monkeypatch.setenv("LATENT_EXPLORER_MEMORY_LIMIT", "8M")
    err = refused(["info", path], capsys, "bomb.pt", watch=tmp_path)
    assert "unpack" in err and "memory" in err


def test_info_on_an_adapter_shows_what_applies(tmp_path, capsys):
    path = tmp_path / "with_module.py"
    path.write_text(GOOD_ADAPTER.replace('kind, latent_dim, image_shape = "vae", 2, (1, 8, 8)',
                                         'kind, latent_dim, image_shape = "vae", 2, (1, 8, 8)\n'
                                         '    def __init__(self):\n'
                                         '        self.net = torch.nn.Linear(2, 64)'))
    assert main(["info", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not [line for line in lines if line.split()[-1] in ("None", "{}")], lines
    fields = {line.split()[0]: line.split(None, 1)[1] for line in lines}
    assert fields["source"] == "adapter" and fields["parameters"] == str(2 * 64 + 64)
    assert "dataset" not in fields and "history_final" not in fields


def test_window_encode_of_an_adapter_giving_nan_is_one_sentence_not_an_embedding(tmp_path):
    """The probe at load time passes (2 images); encoding the dataset gives NaN: the session says which model."""
    from explorer.core.session import Session
    from models.base import NonFiniteError

    path = tmp_path / "nan_batch.py"
    path.write_text(GOOD_ADAPTER.replace("return x.flatten(1)[:, :2]",
                                         "return x.flatten(1)[:, :2] * (1.0 if x.shape[0] <= 2 else float('nan'))"))
    s = Session(use_workers=False)
    s.run(s.open_dataset("digits", limit=30))
    (m,) = s.add_models([path])
    with pytest.raises(NonFiniteError, match="nan_batch.py.*encode returned .*NaN") as info:
        s.run_all(s.open_model_tasks(m, peek=False))
    assert "\n" not in str(info.value)
    assert m.codes is None  # no embedding is made of NaN codes
    s.close()


@pytest.mark.parametrize("variable", ["LATENT_EXPLORER_CACHE", "LATENT_EXPLORER_CONFIG"])
def test_a_cache_or_settings_path_that_is_a_file_is_one_sentence(tmp_path, monkeypatch, variable):
    from explorer import paths
    from explorer.errors import FolderError, UserError

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(variable, str(blocked / "below"))
    made = paths.cache_dir if variable == "LATENT_EXPLORER_CACHE" else paths.config_dir
    with pytest.raises(FolderError) as caught:
        made()
    assert isinstance(caught.value, UserError) and isinstance(caught.value, OSError)  # code going on without it does
    what = "cache" if variable == "LATENT_EXPLORER_CACHE" else "settings"
    assert str(caught.value) == (f"the {what} folder '{blocked / 'below'}' cannot be made: it or a folder above it "
                                 f"is a file; set {variable} to a folder that can be written.")


def test_the_cli_says_so_in_one_sentence_when_the_cache_is_a_file(tmp_path, monkeypatch, capsys):
    from explorer.cli.main import main

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(blocked))
    out = tmp_path / "s.lxs"
    code = main(["session", "create", str(Path(__file__).parents[1] / "resources" / "checkpoints" / "vae_fashion.pt"),
                 "--data", "fashion-mnist", "--limit", "50", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err == (f"latent-explorer: error: the cache folder '{blocked}' cannot be made: it or a folder above it is "
                   "a file; set LATENT_EXPLORER_CACHE to a folder that can be written.\n")


def test_one_line_quotes_an_error_inside_a_sentence():
    from explorer.errors import one_line

    assert one_line(OSError("disk full.\n  second line.")) == "disk full. second line"
    assert one_line(MemoryError()) == "MemoryError"  # no message: its type's name
