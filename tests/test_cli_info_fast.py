"""`latent-explorer info CKPT` without torch: the full loader's output, its refusals word for word, no torch loaded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

import resources
from explorer.cli import main
from models.base import ModelFileError
from models.checkpoint import save_checkpoint
from models.checkpoint_reader import describe_checkpoint
from models.loading import describe
from models.vae import VAE
from tests.test_bad_inputs import CHECKPOINT_CHANGES, _raw_files

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DEMOS = sorted(resources.path("checkpoints").glob("*.pt"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The good tiny checkpoint of tests/test_bad_inputs.py (VAE, d = 2, 8×8)."""
    root = tmp_path_factory.mktemp("corpus")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = VAE(2, (1, 8, 8), hidden=16, channels=[4])
    save_checkpoint(root / "good.pt", model, dataset="digits", seed=0, history={"loss": [1.0]})
    return root


def _run(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _without_reader(monkeypatch):
    """Make `info` take the full torch loader, as it did before the torch-free reader."""
    monkeypatch.setattr("models.checkpoint_reader.describe_checkpoint", lambda path: None)


@pytest.mark.parametrize("path", DEMOS, ids=[p.name for p in DEMOS])
def test_info_prints_the_same_text_and_json_as_the_full_loader(path, capsys, monkeypatch):
    assert describe_checkpoint(path) is not None  # the torch-free path answers for the demo checkpoints
    fast = [_run(["info", path], capsys), _run(["info", path, "--json"], capsys)]
    _without_reader(monkeypatch)
    calls = []
    monkeypatch.setattr("models.loading.describe", lambda p, **kw: calls.append(p) or describe(p, **kw))
    slow = [_run(["info", path], capsys), _run(["info", path, "--json"], capsys)]
    assert len(calls) == 2  # the full loader answered this time
    assert fast == slow and fast[0][0] == 0 and fast[0][1]
    assert json.loads(fast[1][1]) == json.loads(json.dumps(describe(path), default=str))


def _refusal(path) -> str:
    with pytest.raises(ModelFileError) as info:
        describe(path)
    return f"latent-explorer: error: {info.value}\n"


@pytest.mark.parametrize("change", CHECKPOINT_CHANGES, ids=lambda f: f.__name__.strip("_"))
def test_every_changed_checkpoint_is_refused_with_the_loaders_sentence(corpus, tmp_path, capsys, change):
    payload = torch.load(corpus / "good.pt", weights_only=True)
    change(payload)
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    assert describe_checkpoint(bad) is None
    assert _run(["info", bad], capsys) == (2, "", _refusal(bad))


def test_every_file_that_is_no_checkpoint_is_refused_with_the_loaders_sentence(corpus, tmp_path, capsys):
    for name, path in _raw_files(tmp_path, corpus).items():
        assert describe_checkpoint(path) is None, name
        assert _run(["info", path], capsys) == (2, "", _refusal(path)), name


def test_the_good_checkpoint_of_the_corpus_is_read_without_torch(corpus):
    assert describe_checkpoint(corpus / "good.pt") == describe(corpus / "good.pt")


def test_info_imports_neither_torch_nor_scikit_learn_nor_qt():
    path = resources.path("checkpoints", "vae_fashion.pt")
    code = ("import sys, contextlib, io\n"
            "from explorer.cli import main\n"
            "buf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n"
            f"    rc = main(['info', {str(path)!r}, '--json'])\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'sklearn', 'scipy', 'PySide6', "
            "'pyqtgraph', 'umap', 'numba'})\n"
            "print(buf.getvalue()); print('LOADED', heavy, rc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    body, last = out.rsplit("LOADED", 1)
    assert last.split() == ["[]", "0"]
    assert json.loads(body) == json.loads(json.dumps(describe(path), default=str))
