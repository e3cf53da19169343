"""The scorecard: numbers equal single-model `evaluate` on the same images; the paired bootstrap; the tables."""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, homogeneity_completeness_v_measure, normalized_mutual_info_score

import resources
from explorer.core.compare.bootstrap import (
    bootstrap_clustering,
    bootstrap_means,
    contingency_scores,
    paired_difference,
    resample_indices,
)
from explorer.core.compare.columns import COLUMN_FAMILIES, scorecard_columns
from explorer.core.compare.run import compare_models
from explorer.core.compare.scorecard import build_scorecard, scorecard_of
from explorer.core.compare.tables import (
    latex_escape,
    scorecard_csv,
    scorecard_latex,
    scorecard_markdown,
    write_scorecard,
)
from explorer.core.evaluate import evaluate_models
from explorer.core.reconstruction.inversion import InversionSettings
from explorer.data import load_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DEMO = [str(resources.path("checkpoints", f"{m}_fashion.pt")) for m in ("vae", "dcgan", "ali")]
INV = InversionSettings(steps=5, restarts=1, seed=0)
N = 40


@pytest.fixture(scope="module")
def fashion():
    return load_dataset("fashion-mnist", split="test", limit=N, seed=0)


@pytest.fixture(scope="module")
def comparison(fashion):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return compare_models(DEMO, fashion, precisions=("float32", "8bit"), n_images=N, inversion=INV, cache=False)
    finally:
        torch.set_num_threads(threads)


def _assert_same(a, b, path=""):
    """Records equal: text and integers exactly, floats to float32 rounding (encoder runs may differ in the
    last bit between two calls on this CPU)."""
    if isinstance(a, dict):
        assert set(b) <= set(a), f"{path}: keys {set(b) - set(a)} missing"
        for k in b:
            _assert_same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-6), path
    else:
        assert a == b, path


def test_scorecard_numbers_equal_single_model_evaluate_on_the_same_images(fashion, comparison):
    assert comparison.n_images == N and [r.source for r in comparison.runs] == ["encoder", "inverted", "encoder"]
    card = scorecard_of(comparison, n_resamples=200)
    for i, path in enumerate(DEMO):
        alone = evaluate_models([path], fashion, ["clustering", "reconstruction"], precisions=("float32", "8bit"),
                                n_images=N, inversion=INV, gan_codes="inverted", cache=False)["models"][0]
        rec = comparison.runs[i].record
        _assert_same(rec, alone)
        # the scorecard shows exactly the record's numbers
        assert card.cell(i, "clustering.v_measure").value == rec["clustering"]["v_measure"]
        assert card.cell(i, "clustering.silhouette").value == rec["clustering"]["silhouette"]
        by = {r["precision"]: r for r in rec["reconstruction_by_precision"]}
        assert card.cell(i, "reconstruction.8bit.psnr_db").value == by["8bit"]["psnr_db"]
        assert card.cell(i, "reconstruction.float32.ssim").ci95 == tuple(by["float32"]["ssim_ci95"])
        assert card.cell(i, "model.latent_dim").value == rec["latent_dim"]
    assert card.names[1].endswith("(inverted)")
    assert card.cell(0, "model.training_data").value == "fashion-mnist train split (60,000 images)"
    # every model on the same images: the headers state the one N
    for key in ("clustering.ari", "reconstruction.float32.psnr_db", "reconstruction.8bit.ssim"):
        assert f"N = {N}" in card.columns[card.column(key)].header
    assert any(f"same {N} dataset images" in n for n in card.notes)


def test_codes_are_shared_between_clustering_and_reconstruction(comparison):
    run = comparison.runs[0]
    rep = run.reports[0]  # float32: the stored codes are the shared codes themselves
    np.testing.assert_array_equal(rep.codes, run.codes)
    assert len(run.cluster_labels) == len(run.codes) == N


@pytest.mark.parametrize("seed", [0, 1])
def test_contingency_scores_match_scikit_learn_on_resamples(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 6, 250)
    pred = np.where(rng.random(250) < 0.6, y, rng.integers(0, 8, 250))
    res = resample_indices(250, 30, seed)
    got = bootstrap_clustering(y, np.stack([pred]), res)
    for b in range(30):
        yy, pp = y[res[b]], pred[res[b]]
        h, c, v = homogeneity_completeness_v_measure(yy, pp)
        assert got["homogeneity"][0, b] == pytest.approx(h, abs=1e-12)
        assert got["completeness"][0, b] == pytest.approx(c, abs=1e-12)
        assert got["v_measure"][0, b] == pytest.approx(v, abs=1e-12)
        assert got["ari"][0, b] == pytest.approx(adjusted_rand_score(yy, pp), abs=1e-12)
        assert got["nmi"][0, b] == pytest.approx(normalized_mutual_info_score(yy, pp), abs=1e-12)


@pytest.mark.parametrize("y, pred", [(np.zeros(9, int), np.zeros(9, int)), (np.zeros(9, int), np.arange(9)),
                                     (np.arange(9), np.zeros(9, int)), (np.arange(9) % 2, np.arange(9) % 3)])
def test_contingency_scores_degenerate_tables_follow_scikit_learn(y, pred):
    table = np.zeros((y.max() + 1, pred.max() + 1))
    np.add.at(table, (y, pred), 1)
    got = contingency_scores(table)
    h, c, v = homogeneity_completeness_v_measure(y, pred)
    ref = {"homogeneity": h, "completeness": c, "v_measure": v, "ari": adjusted_rand_score(y, pred),
           "nmi": normalized_mutual_info_score(y, pred)}
    for k, want in ref.items():
        assert float(got[k]) == pytest.approx(want, abs=1e-12), k


def test_bootstrap_means_are_the_means_of_the_resampled_values():
    v = np.arange(12, dtype=float).reshape(2, 6)
    res = resample_indices(6, 5, 3)
    got = bootstrap_means(v, res)
    for m in range(2):
        for b in range(5):
            assert got[m, b] == pytest.approx(np.mean([v[m, i] for i in res[b]]))


def _records(psnr_a, psnr_b, pred_a, pred_b, y):
    recs, paired = [], []
    for name, p, pred in (("a", psnr_a, pred_a), ("b", psnr_b, pred_b)):
        scores = dict(zip(("homogeneity", "completeness", "v_measure"), homogeneity_completeness_v_measure(y, pred),
                          strict=True))
        recs.append({"name": name, "kind": "vae", "latent_dim": 4, "codes": "encoder",
                     "clustering": {"space": "latent", "k": 3, "n_images": len(y), "projection": None,
                                    "ari": adjusted_rand_score(y, pred), "nmi": normalized_mutual_info_score(y, pred),
                                    "silhouette": None, "silhouette_sample_size": None, **scores},
                     "reconstruction_by_precision": [{"precision": "float32", "compression_ratio": 12.25,
                                                      "psnr_db": float(np.mean(p)), "ssim": None,
                                                      "n_images": len(y), "psnr_db_ci95": [None, None],
                                                      "ssim_ci95": [None, None]}]})
        paired.append({"images:psnr:float32": p, "clustering:labels": pred, "clustering:true": y})
    return recs, paired


def test_paired_bootstrap_identical_models_are_not_significant(comparison):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    pred = np.where(rng.random(200) < 0.7, y, rng.integers(0, 3, 200))
    psnr = rng.normal(20, 3, 200)
    recs, paired = _records(psnr, psnr.copy(), pred, pred.copy(), y)
    card = build_scorecard(recs, paired, n_images=200, n_resamples=1000, seed=0)
    for key in ("clustering.v_measure", "clustering.ari", "reconstruction.float32.psnr_db"):
        a, b = card.cell(0, key), card.cell(1, key)
        assert a.best and b.best  # a tie: both are the best
    # the same checkpoint twice on the demo images: ties everywhere
    twice = [comparison.runs[0].record, dict(comparison.runs[0].record)]
    from explorer.core.compare.scorecard import paired_data

    pd = paired_data(comparison)[0]
    card = build_scorecard(twice, [pd, dict(pd)], n_images=N, n_resamples=1000)
    for j, col in enumerate(card.columns):
        if col.direction is not None and card.cells[0][j].value is not None:
            assert card.cells[0][j].best and card.cells[1][j].best, col.key
    # a difference of exactly zero on every resample is not significant
    d = paired_difference(np.full(1000, 0.3), np.full(1000, 0.3))
    assert not d.significant and d.ci95 == (0.0, 0.0)


def test_paired_bootstrap_separates_clearly_different_models_and_not_close_ones():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    good = y.copy()
    bad = rng.integers(0, 3, 300)
    psnr = rng.normal(20, 3, 300)
    recs, paired = _records(psnr + 5.0, psnr, good, bad, y)
    card = build_scorecard(recs, paired, n_images=300, n_resamples=1000, seed=0)
    for key in ("clustering.v_measure", "clustering.ari", "clustering.homogeneity", "reconstruction.float32.psnr_db"):
        assert card.cell(0, key).best
        cell = card.cell(1, key)
        assert cell.not_significant is False and cell.diff_ci95[1] < 0, key
    d = card.cell(1, "reconstruction.float32.psnr_db").diff_ci95
    assert d == pytest.approx((-5.0, -5.0))  # paired: the shift is exactly 5 dB on every image
    # a per-image difference that is noise around zero is not significant
    noise = psnr + rng.normal(0, 0.01, 300) * np.sign(rng.normal(size=300))
    recs, paired = _records(noise, psnr, good, good.copy(), y)
    recs[1]["reconstruction_by_precision"][0]["psnr_db"] = float(np.mean(psnr))
    card = build_scorecard(recs, paired, n_images=300, n_resamples=1000, seed=0)
    loser = 1 if card.cell(0, "reconstruction.float32.psnr_db").best else 0
    assert card.cell(loser, "reconstruction.float32.psnr_db").not_significant is True


def test_bootstrap_is_seeded():
    a = resample_indices(50, 1000, 7)
    np.testing.assert_array_equal(a, resample_indices(50, 1000, 7))
    assert a.shape == (1000, 50) and not np.array_equal(a, resample_indices(50, 1000, 8))


def _data_rows(tex: str) -> list[str]:
    body = tex.split(r"\toprule", 1)[1].split(r"\bottomrule", 1)[0]
    return [line for line in body.splitlines() if line.strip() and not line.strip().startswith("\\midrule")]


def test_latex_table_is_balanced_and_escaped(comparison):
    card = scorecard_of(comparison, n_resamples=200)
    tex = scorecard_latex(card, caption="Demo models on 40% of nothing_special & more")
    spec = re.search(r"\\begin\{tabular\}\{([a-z]+)\}", tex).group(1)
    rows = _data_rows(tex)
    assert len(rows) == 2 + len(card.names)  # two header rows, one per model
    for row in rows:
        assert row.rstrip().endswith(r"\\")
        cells = re.split(r"(?<!\\)&", row.rstrip()[:-2])
        assert len(cells) == len(spec) == len(card.columns) + 1, row
        assert row.count("{") - row.count(r"\{") == row.count("}") - row.count(r"\}"), row
    assert r"vae\_fashion.pt" in tex and "vae_fashion" not in tex.replace(r"\_", "")
    assert r"40\% of nothing\_special \& more" in tex
    assert tex.count(r"\toprule") == tex.count(r"\midrule") == tex.count(r"\bottomrule") == 1
    # no unescaped special characters outside commands
    for ch in "%#_":
        assert not re.search(rf"(?<!\\){re.escape(ch)}", tex), ch
    assert latex_escape("a_b%c&d#e$f{g}h~i^j\\k") == \
        r"a\_b\%c\&d\#e\$f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k"


def test_csv_markdown_and_json_keep_every_row_and_evaluate_layout(comparison, tmp_path):
    card = scorecard_of(comparison, n_resamples=200)
    rows = list(csv.reader(io.StringIO(scorecard_csv(card))))
    assert len(rows) == 1 + len(card.names) and len({len(r) for r in rows}) == 1
    header = rows[0]
    j = header.index(card.columns[card.column("reconstruction.float32.psnr_db")].header)
    assert float(rows[1][j]) == comparison.runs[0].record["reconstruction"]["psnr_db"]
    md = scorecard_markdown(card).splitlines()
    table = [line for line in md if line.startswith("|")]
    assert len(table) == 2 + len(card.names)
    assert len({line.count(" | ") for line in table[2:]}) == 1
    paths = write_scorecard(card, tmp_path, comparison.result())
    assert [p.name for p in paths] == ["scorecard.json", "scorecard.csv", "scorecard.md", "scorecard.tex"]
    doc = json.loads(paths[0].read_text())
    assert [m["checkpoint"] for m in doc["models"]] == DEMO
    assert doc["models"][0]["reconstruction_by_precision"][1]["precision"] == "8bit"
    assert doc["scorecard"]["rows"][1]["model"].endswith("(inverted)")
    assert doc["scorecard"]["bootstrap"]["n_resamples"] == 200
    assert not list(tmp_path.glob(".*"))  # no temp file left


def test_other_families_become_columns_when_their_records_are_present():
    base = {"name": "m", "kind": "vae", "latent_dim": 4, "codes": "encoder"}
    assert {c.family for c in scorecard_columns([base])} == {"model"}
    assert list(COLUMN_FAMILIES)[:3] == ["model", "clustering", "reconstruction"]
    a = dict(base, likelihood={"estimator": "iwae", "k": 5000, "n_images": 1000, "nll_nats": 240.5,
                               "nll_nats_ci95": [239.0, 242.0], "bits_per_dim": 0.44,
                               "observation_model": "Bernoulli"},
             sample_quality={"extractor": "fashion-lenet", "n_samples": 10000, "real_set": "test", "fid": 12.0,
                             "kid": 0.01, "is": 7.5, "precision": 0.7, "recall": 0.5, "density": 0.9,
                             "coverage": 0.8},
             disentanglement={"beta_vae": 0.8, "factor_vae": 0.7, "mig": 0.2, "sap": 0.05,
                              "dci": {"disentanglement": 0.3, "completeness": 0.3, "informativeness": 0.9},
                              "settings": "fast", "n_train": 10000, "n_test": 5000})
    b = dict(base, name="g", kind="gan", sample_quality={**a["sample_quality"], "fid": 8.0, "is": 6.0})
    card = build_scorecard([a, b])
    fid = card.columns[card.column("sample_quality.fid")]
    assert "fashion-lenet" in fid.header and "N = 10,000" in fid.header and fid.direction == "lower"
    assert card.cell(1, "sample_quality.fid").best and not card.cell(0, "sample_quality.fid").best
    assert card.cell(0, "sample_quality.is").best
    nll = card.columns[card.column("likelihood.nll_nats")]
    assert "nats" in nll.header and "IWAE k = 5000" in nll.header and "N = 1,000" in nll.header
    # one model's value alone is not "best" of anything (the GAN has no likelihood)
    assert not card.cell(0, "likelihood.nll_nats").best and card.cell(1, "likelihood.nll_nats").value is None
    assert card.cell(0, "likelihood.nll_nats").ci95 == (239.0, 242.0)
    assert card.cell(0, "disentanglement.dci.informativeness").value == 0.9
    assert "N = 10,000 train / 5,000 test" in card.columns[card.column("disentanglement.mig")].header
    assert "— " in scorecard_markdown(card) or "—" in scorecard_markdown(card)


def test_the_compression_ratio_is_a_rate_never_marked_best():
    from explorer.core.compare.columns import _reconstruction_columns

    records = [{"reconstruction": {"precision": "float32", "compression_ratio": r, "psnr_db": p, "n_images": 10}}
               for r, p in ((24.5, 20.0), (49.0, 18.0))]
    cols = {c.key: c for c in _reconstruction_columns(records)}
    assert cols["reconstruction.float32.compression_ratio"].direction is None
    assert cols["reconstruction.float32.psnr_db"].direction == "higher"
