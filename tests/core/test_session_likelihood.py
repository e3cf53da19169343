"""The Likelihood panel's session task: its Evaluation holds exactly the core's numbers, a second dataset, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.core.likelihood import LikelihoodError, LikelihoodSettings, estimate_likelihood
from explorer.core.session.likelihood import (
    estimator_availability,
    likelihood_evaluation,
    likelihood_family,
    likelihood_task,
    second_families,
)
from explorer.core.workspace import dataset_identity
from explorer.data import load_dataset
from models.checkpoint import save_checkpoint
from models.dcgan import DCGAN
from tests.core.test_session import files, new_session, open_all  # noqa: F401 - the fixture

__all__ = ["files"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_the_evaluation_holds_the_cores_iwae_numbers_and_colours_the_points(tmp_path, files):
    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    m = s.models[0]
    settings = LikelihoodSettings(estimator="iwae", iwae_k=(1, 4, 16), n_images=12, binarize=True, seed=3)
    s.run(likelihood_task(s, m.key, settings))
    ev = s.evaluation(m.key, "likelihood")
    direct = estimate_likelihood(m.entry.model, s.dataset, settings)  # the core called directly, same seed
    np.testing.assert_array_equal(ev.indices, direct.indices)
    assert len(ev.indices) == 12 and ev.dataset_id == s.dataset_id
    np.testing.assert_array_equal(ev.values["nll_nats"], direct.nll_nats)
    np.testing.assert_array_equal(ev.values["bits_per_dim"], direct.bits_per_dim)
    np.testing.assert_array_equal(ev.values["elbo_nats"], direct.elbo_nats)
    np.testing.assert_allclose(ev.values["bits_per_dim"], direct.nll_nats / (784 * np.log(2)), rtol=1e-12)
    curve = ev.matrices["iwae_curve"]
    assert curve.shape == (3, 4)
    np.testing.assert_array_equal(curve[:, 0], [1, 4, 16])
    np.testing.assert_allclose(curve[:, 1], direct.curve_nll_nats.mean(axis=1), rtol=1e-12)
    for row, ref in zip(curve, direct.curve(), strict=True):
        np.testing.assert_allclose(row[2:], ref["nll_nats_ci95"], rtol=1e-12)
    assert ev.record["nll_nats"] == pytest.approx(float(direct.nll_nats.mean()), rel=1e-12)
    assert ev.record["elbo_nats"] == pytest.approx(float(direct.elbo_nats.mean()), rel=1e-12)
    assert ev.record["settings"] == settings.to_dict() and ev.record["dataset"]["n_total"] == 90
    s.set_colour("nll")
    col = s.colouring(m.key)
    assert col.mode == "nll" and "bits/dim" in col.title and "IWAE k = 16" in col.title
    np.testing.assert_array_equal(col.values[ev.indices], direct.bits_per_dim)
    assert np.isnan(np.delete(col.values, ev.indices)).all()


def test_a_second_dataset_is_loaded_with_the_sessions_resize_and_kept_apart(tmp_path, files):
    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    m = s.models[0]
    rng = np.random.default_rng(5)
    other = tmp_path / "other.npz"
    np.savez(other, images=rng.random((30, 14, 14)).astype(np.float32), labels=np.arange(30) % 2)
    settings = LikelihoodSettings(estimator="iwae", iwae_k=(1, 8), n_images=10, binarize=True)
    s.run(likelihood_task(s, m.key, settings))
    task = likelihood_task(s, m.key, settings, dataset=str(other))
    s.run(task)
    assert second_families(s, m.key) == ["likelihood:other"]
    ev2 = s.evaluation(m.key, "likelihood:other")
    loaded = load_dataset(str(other), split="test", resize=s.dataset_spec.resize)
    assert ev2.dataset_id == dataset_identity(loaded) != s.dataset_id
    direct = estimate_likelihood(m.entry.model, loaded, settings)  # resized 14×14 → 28×28 by the core
    np.testing.assert_array_equal(ev2.values["nll_nats"], direct.nll_nats)
    assert ev2.record["dataset"]["name"] == loaded.name
    # the first dataset's evaluation (what colours the points) is untouched
    first = s.evaluation(m.key, "likelihood")
    assert first.dataset_id == s.dataset_id
    np.testing.assert_array_equal(first.values["nll_nats"],
                                  estimate_likelihood(m.entry.model, s.dataset, settings).nll_nats)
    # a loaded Dataset object works the same and names its family after the dataset
    task3 = likelihood_task(s, m.key, settings, dataset=loaded)
    assert task3.kind == f"evaluate:{likelihood_family(loaded.name)}:{m.key}"


def test_ais_keeps_sigma_bdmc_and_no_elbo(tmp_path, files):
    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    m = s.models[0]
    settings = LikelihoodSettings(estimator="ais", ais_steps=6, ais_chains=2, leapfrog_steps=2, sigma=0.2,
                                  n_images=3, bdmc_images=2)
    s.run(likelihood_task(s, m.key, settings))
    ev = s.evaluation(m.key, "likelihood")
    direct = estimate_likelihood(m.entry.model, s.dataset, settings)
    np.testing.assert_array_equal(ev.values["nll_nats"], direct.nll_nats)
    assert "elbo_nats" not in ev.values and "iwae_curve" not in ev.matrices
    np.testing.assert_array_equal(ev.matrices["bdmc"], np.stack([direct.bdmc_lower_nats,
                                                                  direct.bdmc_upper_nats], axis=1))
    assert ev.record["sigma"] == 0.2 and ev.record["bdmc_gap_nats"] == pytest.approx(direct.record["bdmc_gap_nats"])


def test_a_gan_asked_for_iwae_gets_the_sentence_pointing_to_ais(tmp_path, files):
    data, _a, _b = files
    torch.manual_seed(0)
    gan = save_checkpoint(tmp_path / "gan.pt", DCGAN(4, (1, 28, 28), g_width=8, d_width=8).eval(), dataset="toy",
                          seed=0)
    s = new_session(tmp_path)
    open_all(s, data, [gan])
    m = s.models[0]
    avail = estimator_availability(m.entry.model, m.name)
    assert avail["ais"] is None and avail["kde"] is None and "AIS" in avail["iwae"]
    with pytest.raises(LikelihoodError, match=r"GAN generator.*use AIS") as err:
        likelihood_task(s, m.key, LikelihoodSettings(estimator="iwae"))
    assert "\n" not in str(err.value) and s.evaluation(m.key, "likelihood") is None
    with pytest.raises(KeyError):
        likelihood_task(s, "nope", LikelihoodSettings())


def test_family_names_fit_the_store():
    assert likelihood_family(None) == "likelihood"
    assert likelihood_family("fashion-mnist") == "likelihood:fashion-mnist"
    assert likelihood_family("my data (v2)") == "likelihood:my_data__v2_"


def test_a_bernoulli_decoder_on_grey_levels_gives_no_bits_per_dim(tmp_path, files):
    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    m = s.models[0]
    settings = LikelihoodSettings(estimator="iwae", iwae_k=(1, 2), n_images=4)
    res = estimate_likelihood(m.entry.model, s.dataset, settings)
    ev = likelihood_evaluation(res)
    assert set(ev.values) == {"nll_nats", "elbo_nats"} and ev.record["bits_per_dim"] is None


def test_summary_lines_and_csv_say_units_n_and_caveats(tmp_path, files):
    from explorer.core.session.likelihood import per_image_csv, summary_lines, write_per_image_csv

    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    m = s.models[0]
    ais = LikelihoodSettings(estimator="ais", ais_steps=5, ais_chains=2, leapfrog_steps=2, sigma=0.3, n_images=3,
                             bdmc_images=1)
    res = estimate_likelihood(m.entry.model, s.dataset, ais)
    lines = summary_lines(likelihood_evaluation(res, dataset=s.dataset))
    r = res.record
    lo, hi = r["nll_nats_ci95"]
    assert lines[0].startswith(f"−log p(x) = {r['nll_nats']:.2f} nats per image (95 % interval {lo:.2f} – {hi:.2f})"
                               f" = {r['bits_per_dim']:.4f} bits/dim ({lo / (784 * np.log(2)):.4f} – "
                               f"{hi / (784 * np.log(2)):.4f}); AIS, T = 5, 2 chains, N = 3 images of toy")
    assert any(f"BDMC gap = {r['bdmc_gap_nats']:.2f} nats" in x and "σ = 0.3" in x for x in lines)
    kde = LikelihoodSettings(estimator="kde", kde_samples=50, sigma=0.2, n_images=4)
    kde_lines = summary_lines(likelihood_evaluation(estimate_likelihood(m.entry.model, s.dataset, kde)))
    assert any(x.startswith("Warning: ") and "unreliable" in x.lower() for x in kde_lines)
    ev = likelihood_evaluation(res)
    text = per_image_csv(ev)
    rows = [line.split(",") for line in text.splitlines()]
    assert rows[0] == ["index", "nll_nats", "bits_per_dim"]
    assert [int(r[0]) for r in rows[1:]] == list(res.indices)
    np.testing.assert_array_equal([float(r[1]) for r in rows[1:]], res.nll_nats)  # repr: exact round trip
    write_per_image_csv(ev, tmp_path / "v.csv")
    assert (tmp_path / "v.csv").read_text() == text
