"""`latent-explorer info` prints what the loader says; `--version` prints the version."""

from __future__ import annotations

import json

import pytest

import resources
from explorer import __version__
from models.loading import describe

DEMO = resources.path("checkpoints", "dcgan_fashion.pt")


def test_info_prints_what_the_loader_says(capsys):
    from explorer.cli import main

    assert main(["info", str(DEMO), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(describe(DEMO), default=str))


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
