"""`latent-explorer info` reads a checkpoint without importing torch; `--version` prints the version."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import resources
from explorer import __version__
from models.loading import describe

DEMO = resources.path("checkpoints", "dcgan_fashion.pt")


@pytest.mark.skipif(not DEMO.is_file(), reason="the demo checkpoint dcgan_fashion.pt is not built")
def test_info_does_not_import_torch_and_prints_what_the_loader_says():
    code = ("import sys, contextlib, io\n"
            "from explorer.cli import main\n"
            "buf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n"
            f"    rc = main(['info', {str(DEMO)!r}, '--json'])\n"
            "print(buf.getvalue()); print('TORCH', 'torch' in sys.modules, 'NUMPY', 'numpy' in sys.modules, rc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    body, last = out.rsplit("TORCH", 1)
    assert last.split() == ["False", "NUMPY", "False", "0"]
    assert json.loads(body) == json.loads(json.dumps(describe(DEMO), default=str))


def test_version(capsys):
    from explorer.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"latent-explorer {__version__}"


def test_the_parser_spells_the_datasets_resize_filters():
    from explorer.cli import args
    from explorer.data import DEFAULT_RESIZE, RESIZE_METHODS

    assert args.RESIZE_METHODS == RESIZE_METHODS and args.DEFAULT_RESIZE == DEFAULT_RESIZE
