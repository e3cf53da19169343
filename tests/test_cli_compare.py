"""`latent-explorer compare`: the report folder — every file, checked paths, nothing partial on failure."""

from __future__ import annotations

import json
import re

import pytest

import resources
from explorer.cli import main
from explorer.cli.compare.folder import MARKER, REPORT_FILES

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DEMO = [str(resources.path("checkpoints", f"{m}_fashion.pt")) for m in ("vae", "dcgan", "ali")]
FAST = ["--data", "fashion-mnist", "--n-images", "24", "--inversion-steps", "5", "--inversion-restarts", "1",
        "--no-cache", "--n-show", "4", "--rd-images", "12"]


def _hidden(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != MARKER]


def test_compare_on_the_demo_models_writes_every_file_of_the_report(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["compare", *DEMO, *FAST, "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert set(REPORT_FILES) <= names
    assert {"embeddings.png", "reconstructions.png", "rate_distortion.png", MARKER} <= names
    for pdf in ("embeddings.pdf", "reconstructions.pdf", "rate_distortion.pdf"):
        assert (out / pdf).read_bytes()[:5] == b"%PDF-"
        assert (out / pdf).with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((out / "scorecard.json").read_text())
    assert [m["checkpoint"] for m in doc["models"]] == DEMO
    assert [m["codes"] for m in doc["models"]] == ["encoder", "inverted", "encoder"]
    assert all(m["clustering"]["n_images"] == 24 and m["reconstruction"]["n_images"] == 24 for m in doc["models"])
    assert [r["precision"] for r in doc["models"][0]["reconstruction_by_precision"]] == ["float32", "8bit"]
    assert doc["scorecard"]["bootstrap"]["n_resamples"] == 1000
    page = (out / "index.html").read_text()
    for src in re.findall(r'src="([^"]+)"', page):  # every picture the page shows is in the folder
        assert (out / src).is_file() and "/" not in src
    assert "dcgan_fashion.pt (inverted)" in page and "<table" in page
    assert "N = 24" in (out / "scorecard.md").read_text()
    assert r"\toprule" in (out / "scorecard.tex").read_text()
    assert _hidden(tmp_path) == [] and _hidden(out) == []
    assert "wrote" in capsys.readouterr().out


def test_compare_refuses_a_folder_it_did_not_write_and_leaves_it_alone(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert main(["compare", DEMO[0], *FAST, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "mine" in err and "not written by latent-explorer compare" in err and "\n" not in err
    assert [p.name for p in out.iterdir()] == ["thesis.tex"] and (out / "thesis.tex").read_text() == "precious"
    afile = tmp_path / "file"
    afile.write_text("x")
    assert main(["compare", DEMO[0], *FAST, "--out", str(afile)]) == 2
    assert afile.read_text() == "x"
    assert main(["compare", DEMO[0], *FAST, "--resamples", "100", "--out", str(tmp_path / "new")]) == 2
    assert "at least 1000" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_compare_replaces_its_own_report_and_leaves_nothing_on_failure(tmp_path, monkeypatch, capsys):
    out = tmp_path / "report"
    one = [DEMO[0], "--data", "fashion-mnist", "--n-images", "16", "--n-show", "3", "--rd-images", "8"]
    assert main(["compare", *one, "--out", str(out)]) == 0
    first = json.loads((out / "scorecard.json").read_text())
    assert first["models"][0]["reconstruction"]["n_images"] == 16
    # a second run over the same folder replaces the report
    assert main(["compare", *one[:4], "12", *one[5:], "--out", str(out)]) == 0
    assert json.loads((out / "scorecard.json").read_text())["models"][0]["reconstruction"]["n_images"] == 12
    # a failure while writing: the earlier report stays as it was, no partial folder is left
    import explorer.cli.compare.figures as figures

    def broken(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(figures, "draw_rate_distortion", broken)
    before = (out / "scorecard.json").read_bytes()
    assert main(["compare", *one, "--out", str(out)]) == 2
    assert "disk full" in capsys.readouterr().err
    assert (out / "scorecard.json").read_bytes() == before
    assert _hidden(tmp_path) == []
    fresh = tmp_path / "fresh"
    assert main(["compare", *one, "--out", str(fresh)]) != 0
    assert not fresh.exists() and _hidden(tmp_path) == []
    capsys.readouterr()


def test_unknown_metric_is_one_sentence_and_the_parser_stays_light(tmp_path, capsys):
    assert main(["compare", DEMO[0], *FAST, "--metrics", "clustering", "beauty", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "beauty" in err and "\n" not in err and not (tmp_path / "r").exists()
    import subprocess
    import sys

    code = ("import sys; from explorer.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'sklearn', 'explorer.core.evaluate') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"  # the window's start does not pay for compare
