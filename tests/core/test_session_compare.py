"""Compare mode of a session, without Qt: panels, alignment, linked selection, one colouring, hover images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.core.compare.align import procrustes_align, shared_positions
from explorer.core.reconstruction.metrics import psnr
from explorer.core.session.files import read_session, restore_session, save_session
from models.checkpoint import save_checkpoint
from models.dcgan import DCGAN
from tests.core.test_session import files, new_session, open_all  # noqa: F401 - the fixture

__all__ = ["files"]


@pytest.fixture
def compared(tmp_path, files, one_torch_thread):  # noqa: F811 - the fixture imported above
    """Two VAEs (d = 3, 5) and a GAN showing 12 inverted dataset images, all projected with PCA."""
    data, a, b = files
    torch.manual_seed(0)
    gan = save_checkpoint(tmp_path / "models" / "gan.pt", DCGAN(4, (1, 28, 28), g_width=8, d_width=8).eval(),
                          dataset="toy", seed=0)
    s = new_session(tmp_path)
    s.update_settings("reconstruction", inversion={"steps": 3, "restarts": 1})
    open_all(s, data, [a, b, gan])
    g = s.models[2]
    s.run_all([s.set_gan_points(g.key, "inverted", 12)])
    s.run_all(s.follow_up())
    assert all(m.embedding is not None for m in s.models)
    return s


def test_panels_are_titled_and_aligned_onto_the_first_model(compared):
    s = compared
    s.set_compare_mode(True)
    panels = s.compare_panels()
    assert [p.key for p in panels] == [m.key for m in s.models]
    a, b, g = panels
    assert "d = 3" in a.title and "d = 5" in b.title and "PCA" in a.title
    assert "z inverted" in g.title and "Procrustes-aligned" in b.title and "Procrustes-aligned" not in a.title
    # the reference is unchanged; the others are exactly the Procrustes fit on the images they share
    np.testing.assert_array_equal(a.embedding, s.models[0].embedding.embedding)
    expected, _ = procrustes_align(s.models[0].embedding.embedding, s.models[1].embedding.embedding)
    np.testing.assert_allclose(b.embedding, expected, atol=1e-12)
    rows_ref, rows = shared_positions(a.dataset_indices, g.dataset_indices)
    expected_g, al = procrustes_align(a.embedding, s.models[2].embedding.embedding, rows_ref, rows)
    np.testing.assert_allclose(g.embedding, expected_g, atol=1e-12)
    assert g.alignment.n_shared == 12 and "no scaling" in g.notes[0]
    s.set_compare(align="none")
    np.testing.assert_array_equal(s.compare_panels()[1].embedding, s.models[1].embedding.embedding)


def test_selection_in_the_inverted_subset_selects_the_same_images_everywhere(compared):
    s = compared
    g = s.models[2]
    s.select_points(g.key, [0, 5, 11])
    picked = g.codes.indices[[0, 5, 11]]
    np.testing.assert_array_equal(s.selection, np.sort(picked))
    for m in s.models[:2]:  # encoder models show every image: point i is image i
        np.testing.assert_array_equal(s.selected_points(m.key), np.sort(picked))
    # and back: a selection in a VAE's view holds images the GAN does not show
    others = np.setdiff1d(np.arange(90), g.codes.indices)[:4]
    s.select_points(s.models[0].key, np.r_[others, picked[:1]])
    np.testing.assert_array_equal(s.selected_points(g.key), [0])


def test_one_colouring_for_all_is_mapped_by_dataset_index(compared):
    s = compared
    src = s.models[1]
    s.run(s.kmeans(src.key, "latent", 3, 0))
    s.set_compare(colour_key=src.key)
    s.set_colour("cluster")
    panels = s.compare_panels()
    for p in panels:
        col = s.compare_colouring(p)
        np.testing.assert_array_equal(col.categories, src.clustering.labels[p.dataset_indices])
        assert src.name in col.title
    s.set_colour("dimension", 4)
    col = s.compare_colouring(panels[2])
    np.testing.assert_array_equal(col.values, src.codes.z[panels[2].dataset_indices, 4])
    assert col.title == f"z[4] of {src.name}"
    # a model that shows a subset colours the rest as missing
    s.set_compare(colour_key=s.models[2].key)
    s.set_colour("cluster")
    s.run(s.kmeans(s.models[2].key, "latent", 2, 0))
    col = s.compare_colouring(panels[0])
    shown = np.zeros(90, bool)
    shown[s.models[2].codes.indices] = True
    assert (col.categories[~shown] == 2).all() and col.names[2].startswith("not in")
    s.set_colour("label")
    col = s.compare_colouring(panels[2])
    np.testing.assert_array_equal(col.categories, s.dataset.labels[panels[2].dataset_indices])


def test_hover_rings_the_same_image_and_shows_each_reconstruction(compared):
    s = compared
    got = []
    s.hover_changed.connect(got.append)
    g = s.models[2]
    i = int(g.codes.indices[3])
    s.set_hovered(i)
    assert got == [i]
    np.testing.assert_array_equal(s.compared_points(g.key), [3])
    np.testing.assert_array_equal(s.compared_points(s.models[0].key), [i])
    images = s.hover_images(i)
    assert [h.key for h in images] == [None, *(m.key for m in s.models)]
    x = s.dataset.images[i:i + 1]
    vae = s.models[0].entry.model
    with torch.no_grad():
        direct = vae.decode(vae.encode(torch.from_numpy(x))).numpy()
    np.testing.assert_allclose(images[1].image, direct[0], atol=1e-6)
    assert images[1].psnr_db == pytest.approx(float(psnr(x, direct)[0]), abs=1e-6)
    np.testing.assert_allclose(images[3].image, g.codes.generated[3], atol=0)
    assert images[3].note == "G(z), z inverted"
    not_inverted = int(np.setdiff1d(np.arange(90), g.codes.indices)[0])
    assert s.hover_images(not_inverted)[3].image is None
    s.set_hovered(None)
    assert got == [i, -1] and len(s.compared_points(g.key)) == 0
    with pytest.raises(IndexError, match="outside the open dataset"):
        s.hover_images(90)


def test_compare_settings_are_saved_and_restored(tmp_path, compared):
    s = compared
    keys = [m.key for m in s.models]
    s.set_compare([keys[2], keys[0]], "none", keys[0])
    s.set_compare_mode(True)
    path = save_session(s, tmp_path / "c.lxs")
    s2 = new_session(tmp_path, "cache2")
    s2.update_settings("reconstruction", inversion={"steps": 3, "restarts": 1})
    s2.run_all(restore_session(s2, read_session(path)))
    assert s2.compare_mode is True
    assert s2.compare.keys == (keys[2], keys[0]) and s2.compare.align == "none" and s2.compare.colour_key == keys[0]
    s2.remove_model(keys[0])
    assert s2.compare.keys == (keys[2],) and s2.compare.colour_key is None


def test_a_bad_compare_entry_is_one_sentence(tmp_path, compared):
    import json

    from explorer.core.session.files import SessionFileError

    path = save_session(compared, tmp_path / "c.lxs")
    doc = json.loads(path.read_text())
    for bad in ({"models": [7]}, {"align": "tsne"}, {"on": 1}, {"models": "all"}):
        doc["compare"] = bad
        path.write_text(json.dumps(doc))
        with pytest.raises(SessionFileError, match="compare"):
            read_session(path)


def test_aligned_umap_task_fits_the_compared_codes_together(compared):
    from explorer.core.compare.align import aligned_umap

    s = compared
    s.set_compare([m.key for m in s.models[:2]], "aligned-umap")
    assert "not been computed" in " ".join(s.compare_panels()[0].notes)
    s.run(s.aligned_umap_task(seed=0))
    panels = s.compare_panels()
    assert all("AlignedUMAP" in p.title for p in panels) and not any("not been computed" in n for p in panels
                                                                       for n in p.notes)
    direct, _ = aligned_umap([m.codes.z for m in s.models[:2]], [np.arange(90)] * 2, seed=0)
    for p, e in zip(panels, direct, strict=True):  # seeded: the same embedding as a direct fit
        np.testing.assert_allclose(p.embedding, e, atol=1e-4)


def test_synced_interpolation_decodes_each_models_path_between_the_same_images(compared):
    from explorer.core.latent.interpolation import interpolation_frames, interpolation_path

    s = compared
    g = s.models[2]
    i, j = (int(v) for v in g.codes.indices[[1, 7]])
    runs = s.compare_interpolation(i, j, frames=9, method="slerp")
    assert [r.key for r in runs] == [m.key for m in s.models]
    for r, m in zip(runs, s.models, strict=True):
        rows = m.codes.points_of([i, j])
        path = interpolation_path(m.codes.z[rows].astype(np.float64), 9, "slerp").astype(np.float32)
        np.testing.assert_allclose(r.frames, interpolation_frames(m.entry.model, path), atol=1e-6)
        assert r.frames.shape == (9, 1, 28, 28)
    assert runs[2].note == "slerp between inverted codes"
    not_inverted = int(np.setdiff1d(np.arange(90), g.codes.indices)[0])
    runs = s.compare_interpolation(i, not_inverted, frames=5)
    assert runs[2].frames is None and f"#{not_inverted} not inverted" == runs[2].note
    assert runs[0].frames.shape[0] == 5
    with pytest.raises(ValueError, match="two different dataset images"):
        s.compare_interpolation(i, i)


def test_compared_gans_are_inverted_on_request(tmp_path, files, one_torch_thread):  # noqa: F811
    data, a, _b = files
    torch.manual_seed(0)
    gan = save_checkpoint(tmp_path / "models" / "gan.pt", DCGAN(4, (1, 28, 28), g_width=8, d_width=8).eval(),
                          dataset="toy", seed=0)
    s = new_session(tmp_path)
    s.update_settings("reconstruction", inversion={"steps": 2, "restarts": 1})
    open_all(s, data, [a, gan])
    assert s.compare_panels()[1].linked is False
    tasks = s.compare_inversion_tasks(10)
    assert len(tasks) == 1
    s.run_all(tasks)
    s.run_all(s.follow_up())
    p = s.compare_panels()[1]
    assert p.linked and len(p.dataset_indices) == 10 and "z inverted" in p.title
    assert s.compare_inversion_tasks(10) == []


def test_scorecard_task_measures_the_compared_models_on_the_same_images(compared, tmp_path):
    from explorer.core.compare.run import compare_models

    s = compared
    got = []
    s.scorecard_changed.connect(lambda: got.append(1))
    s.run(s.scorecard_task(n_images=30, precisions=("float32",), seed=0))
    assert got == [1]
    card, comparison = s.scorecard["card"], s.scorecard["comparison"]
    assert len(card.names) == 3 and card.n_images == 30 and "(inverted)" in card.names[2]
    direct = compare_models([m.path for m in s.models], s.dataset, ("clustering", "reconstruction"), n_images=30,
                            precisions=("float32",), seed=0, inversion=s.inversion_settings())
    for row, run in enumerate(direct.runs):
        assert card.cell(row, "clustering.v_measure").value == pytest.approx(run.record["clustering"]["v_measure"])
    np.testing.assert_array_equal(comparison.indices, direct.indices)
    for ext in (".csv", ".json", ".md", ".tex"):
        out = s.export_scorecard(tmp_path / f"card{ext}")
        assert (tmp_path / f"card{ext}").stat().st_size > 0 and out.endswith(ext)
    with pytest.raises(ValueError, match="use .csv, .json, .md or .tex"):
        s.export_scorecard(tmp_path / "card.txt")
    s.remove_model(s.models[1].key)  # the table has a row of it: it goes, and the view hears so
    assert s.scorecard is None and got == [1, 1]


def test_models_of_other_image_sizes_are_linked_and_their_resizing_is_stated(tmp_path, files, one_torch_thread):  # noqa: F811
    from models.vae import VAE

    data, a, _b = files
    torch.manual_seed(3)
    small = save_checkpoint(tmp_path / "models" / "small.pt", VAE(2, (1, 16, 16), hidden=16).eval(),
                            dataset="toy", seed=3)
    s = new_session(tmp_path)
    open_all(s, data, [a, small])
    s.run_all(s.follow_up())
    pa, ps = s.compare_panels()
    assert pa.linked and ps.linked and len(ps.embedding) == len(pa.embedding) == 90
    assert any("resized from 28×28 to 16×16" in n for n in ps.notes) and not any("resized" in n for n in pa.notes)
    images = s.hover_images(7)
    assert images[2].image.shape == s.dataset.images[7].shape  # shown at the dataset's resolution
    runs = s.compare_interpolation(3, 40, frames=4)
    assert runs[1].frames.shape == (4, 1, 28, 28)


def test_a_new_dataset_forgets_the_hovered_image_and_the_scorecard(compared, files):
    s = compared
    data, _a, _b = files
    heard = []
    s.hover_changed.connect(heard.append)
    s.set_hovered(50)
    s.scorecard = {"keys": [], "card": None, "comparison": None, "dataset_id": s.dataset_id}
    s.run(s.open_dataset(str(data), limit=40))
    assert s.hovered == -1 and heard == [50, -1] and s.scorecard is None


def test_the_scorecard_shows_each_models_evaluations_and_compares_only_like_with_like(compared):
    from explorer.core.session.evaluations import Evaluation

    s = compared
    a, b, g = (m.key for m in s.models)

    def lik(nll, n=50, seed=0):
        return Evaluation("likelihood", {"estimator": "iwae", "k": 100, "n_images": n, "nll_nats": nll,
                                         "nll_nats_ci95": [nll - 1, nll + 1], "bits_per_dim": nll / 784 / np.log(2),
                                         "seed": seed, "data_convention": "dequantised"}, s.dataset_id)

    s.set_evaluation(a, lik(300.0))  # before the scorecard: taken in when it is made
    s.run(s.scorecard_task(n_images=20, precisions=("float32",), seed=0))
    card = s.scorecard["card"]
    assert card.cell(0, "likelihood.nll_nats").value == 300.0 and card.cell(1, "likelihood.nll_nats").value is None
    seen = []
    s.scorecard_changed.connect(lambda: seen.append(1))
    s.set_evaluation(b, lik(280.0))  # after: the scorecard follows without measuring again
    card = s.scorecard["card"]
    assert seen == [1] and card.cell(1, "likelihood.nll_nats").value == 280.0
    assert card.cell(1, "likelihood.nll_nats").best and not card.cell(0, "likelihood.nll_nats").best
    assert card.cell(0, "likelihood.nll_nats").ci95 == (299.0, 301.0)
    s.set_evaluation(b, lik(280.0, n=500))  # another N: nothing is compared, and the header says why
    card = s.scorecard["card"]
    col = card.columns[card.column("likelihood.nll_nats")]
    assert "not compared: n images differ between models" in col.detail and col.direction is None
    assert not any(card.cell(i, "likelihood.nll_nats").best for i in range(3))
    s.set_evaluation(g, Evaluation("human", {"error_rate": 0.4, "ci95": [0.3, 0.5], "n": 100}, s.dataset_id))
    card = s.scorecard["card"]
    assert card.cell(2, "human.error_rate").value == 0.4 and not card.cell(2, "human.error_rate").best  # alone
    assert "N = 100 answers" in card.columns[card.column("human.error_rate")].detail
    s.set_evaluation(a, Evaluation("likelihood:digits", {"nll_nats": 1.0}, s.dataset_id))  # a second dataset
    assert s.scorecard["card"].cell(0, "likelihood.nll_nats").value == 300.0


def test_an_aligned_umap_is_tied_to_the_codes_objects_themselves():
    from explorer.core.session.compare import CompareViews

    class M:
        def __init__(self, key, codes):
            self.key, self.codes = key, codes

    codes = np.zeros((3, 2))
    sig = CompareViews._umap_signature(None, [M("a", codes)])
    assert CompareViews._same_codes(sig, CompareViews._umap_signature(None, [M("a", codes)]))
    assert not CompareViews._same_codes(sig, CompareViews._umap_signature(None, [M("a", codes.copy())]))
    assert not CompareViews._same_codes(sig, CompareViews._umap_signature(None, [M("b", codes)]))
    assert not CompareViews._same_codes(sig, ())
