"""Aligning embeddings of several models: Procrustes recovers rotations and reflections exactly."""

import numpy as np
import pytest

from explorer.core.compare.align import align_embeddings, procrustes_align, shared_positions


def _rotation(theta):
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


@pytest.mark.parametrize("reflect", [False, True])
def test_procrustes_recovers_a_rotated_and_reflected_copy_exactly(reflect):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 2)) * [3.0, 1.0]
    r = _rotation(1.1)
    if reflect:
        r = r @ np.diag([1.0, -1.0])
    b = a @ r + [5.0, -2.0]
    aligned, al = procrustes_align(a, b)
    np.testing.assert_allclose(aligned, a, atol=1e-10)
    assert al.reflected is reflect
    assert al.residual < 1e-10
    np.testing.assert_allclose(al.rotation @ al.rotation.T, np.eye(2), atol=1e-12)
    assert ("reflected" in al.describe()) is reflect and "no scaling" in al.describe()


def test_procrustes_never_scales():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(100, 2))
    b = 4.0 * a  # same picture at 4x the size: distances must stay those of b
    aligned, _ = procrustes_align(a, b)
    d_b = np.linalg.norm(b[:, None] - b[None], axis=-1)
    d_al = np.linalg.norm(aligned[:, None] - aligned[None], axis=-1)
    np.testing.assert_allclose(d_al, d_b, atol=1e-9)


def test_alignment_uses_only_the_images_both_models_show():
    rng = np.random.default_rng(2)
    n = 300
    full = rng.normal(size=(n, 2))
    idx_ref = np.arange(n)
    # the second model shows only an inverted subset, in another order, rotated
    idx_sub = rng.permutation(n)[:80]
    moved = full[idx_sub] @ _rotation(-0.7).T + 1.0
    rows_ref, rows = shared_positions(idx_ref, idx_sub)
    np.testing.assert_array_equal(idx_ref[rows_ref], idx_sub[rows])
    (ref_out, sub_out), (_, al) = align_embeddings([full, moved], [idx_ref, idx_sub])
    np.testing.assert_allclose(sub_out, full[idx_sub], atol=1e-10)
    assert al.n_shared == 80
    np.testing.assert_array_equal(ref_out, full)


def test_too_few_shared_images_is_one_sentence():
    with pytest.raises(ValueError, match="at least 2 images"):
        align_embeddings([np.zeros((3, 2)), np.zeros((3, 2))], [np.arange(3), np.array([7, 8, 9])])


def test_aligned_umap_in_a_child_process_is_terminated_on_cancel():
    import multiprocessing

    from explorer.core.compare.align import aligned_umap_cancellable
    from explorer.core.jobs import Cancelled, JobContext

    ctx = JobContext()
    rng = np.random.default_rng(0)
    codes = [rng.normal(size=(300, 4)), rng.normal(size=(300, 3))]
    ctx.cancel()  # as the window's close does while the fit runs
    with pytest.raises(Cancelled):
        aligned_umap_cancellable(codes, [np.arange(300)] * 2, seed=0, ctx=ctx, poll_s=0.05)
    assert not [p for p in multiprocessing.active_children() if p.name == "aligned-umap" and p.is_alive()]
