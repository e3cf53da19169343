"""Procedural dSprites: determinism, factor grid, geometry against closed forms."""

import numpy as np
import pytest

from explorer.data import dsprites
from explorer.errors import DatasetError


def test_same_seed_same_arrays_different_seed_different():
    a, b, c = dsprites.generate(300, seed=5), dsprites.generate(300, seed=5), dsprites.generate(300, seed=6)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.factors, b.factors)
    assert not np.array_equal(a.factors, c.factors) and not np.array_equal(a.images, c.images)


def test_dataset_fields_and_factor_grid():
    data = dsprites.generate(2000, seed=0)
    assert data.images.shape == (2000, 1, 64, 64) and data.images.dtype == np.float32
    assert set(np.unique(data.images)) == {0.0, 1.0}
    assert data.factors.shape == (2000, 5) and data.factors.dtype == np.float64
    assert data.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert data.class_names == ("square", "ellipse", "heart")
    np.testing.assert_array_equal(data.labels, data.factors[:, 0] - 1)
    for column, name in enumerate(data.factor_names):
        grid = dsprites.FACTOR_VALUES[name]
        assert np.all(np.isin(data.factors[:, column], grid))
        assert len(np.unique(data.factors[:, column])) == len(grid)  # every value drawn
    assert len(dsprites.FACTOR_VALUES["scale"]) == 6 and len(dsprites.FACTOR_VALUES["orientation"]) == 40
    assert dsprites.FACTOR_VALUES["scale"].min() == 0.5 and dsprites.FACTOR_VALUES["scale"].max() == 1
    assert 0 <= dsprites.FACTOR_VALUES["orientation"].min() and dsprites.FACTOR_VALUES["orientation"].max() < 2 * np.pi
    np.testing.assert_array_equal(dsprites.FACTOR_VALUES["pos_x"], np.linspace(0, 1, 32))
    assert data.images.sum(axis=(1, 2, 3)).min() > 0  # every sprite is visible


def _centroid(mask):
    rows, cols = np.nonzero(mask)
    return cols.mean(), rows.mean()


@pytest.mark.parametrize("shape", [1, 2])
def test_centroid_is_the_position_within_a_pixel(shape):
    rng = np.random.default_rng(1)
    n = 60
    factors = np.column_stack([np.full(n, shape), rng.choice(dsprites.FACTOR_VALUES["scale"], n),
                               rng.choice(dsprites.FACTOR_VALUES["orientation"], n),
                               rng.uniform(0, 1, n), rng.uniform(0, 1, n)])
    images = dsprites.render(factors)
    for image, (_, _, _, pos_x, pos_y) in zip(images, factors, strict=True):
        x, y = _centroid(image[0])
        assert abs(x - (dsprites.position_to_pixel(pos_x) - 0.5)) < 1
        assert abs(y - (dsprites.position_to_pixel(pos_y) - 0.5)) < 1


def test_area_grows_with_scale_squared():
    scales = dsprites.FACTOR_VALUES["scale"]
    for shape, unit_area in [(1, 4.0), (2, np.pi * 1.2 * 0.6)]:
        factors = np.column_stack([np.full(6, shape), scales, np.full(6, 0.3), np.full(6, 0.5), np.full(6, 0.5)])
        areas = dsprites.render(factors).sum(axis=(1, 2, 3))
        expected = unit_area * (scales * dsprites.HALF_SIZE * dsprites.IMAGE_SIZE) ** 2  # closed form, pixels
        np.testing.assert_allclose(areas, expected, rtol=0.12)
        assert np.all(np.diff(areas) > 0)


def test_square_is_symmetric_under_quarter_turns_and_heart_is_not():
    base = np.array([[1, 1.0, 0.4, 0.5, 0.5], [3, 1.0, 0.4, 0.5, 0.5]])
    turned = base.copy()
    turned[:, 2] += np.pi / 2
    a, b = dsprites.render(base), dsprites.render(turned)
    assert np.abs(a[0] - b[0]).sum() <= 4  # pixel-centre ties on the boundary only
    assert np.abs(a[1] - b[1]).sum() > 20


def test_heart_points_down_at_orientation_zero():
    image = dsprites.render(np.array([[3, 1.0, 0.0, 0.5, 0.5]]))[0, 0]
    rows = np.nonzero(image.any(axis=1))[0]
    widths = image.sum(axis=1)
    assert widths[rows[-1]] < widths[rows[0] + 2]  # narrow tip at the bottom, lobes on top


def test_windowed_render_matches_full_canvas_reference():
    rng = np.random.default_rng(2)
    n = 200
    factors = np.column_stack([rng.integers(1, 4, n), rng.uniform(0.05, 1, n), rng.uniform(0, 7, n),
                               rng.uniform(0, 1, n), rng.uniform(0, 1, n)])
    factors[:20, 1] = 1.0
    factors[:20, 3:] = rng.integers(0, 2, (20, 2))  # largest sprites in the corners
    images = dsprites.render(factors)
    centres = (np.arange(64) + 0.5) / 64
    for image, (shape, scale, angle, pos_x, pos_y) in zip(images, factors, strict=True):
        size = scale * dsprites.HALF_SIZE
        dx = (centres[None, :] - (0.25 + 0.5 * pos_x)) / size
        dy = ((0.25 + 0.5 * pos_y) - centres[:, None]) / size
        u, v = np.cos(angle) * dx + np.sin(angle) * dy, np.cos(angle) * dy - np.sin(angle) * dx
        if shape == 1:
            expected = np.maximum(abs(u), abs(v)) <= 1
        elif shape == 2:
            expected = (u / 1.2) ** 2 + (v / 0.6) ** 2 <= 1
        else:
            w = v + 0.118
            expected = (u**2 + w**2 - 1) ** 3 - u**2 * w**3 <= 0
        assert np.sum(image[0].astype(bool) != expected) <= 2  # float32 vs float64 on boundaries


@pytest.mark.parametrize("bad", [[[4, 1, 0, 0.5, 0.5]], [[1, 1.5, 0, 0.5, 0.5]], [[1, 1, 0, 1.2, 0.5]], [[1, 1, 0]]])
def test_render_rejects_values_outside_the_domain(bad):
    with pytest.raises(DatasetError):
        dsprites.render(np.array(bad, dtype=float))


def test_generate_rejects_non_positive_counts():
    with pytest.raises(DatasetError):
        dsprites.generate(0)
