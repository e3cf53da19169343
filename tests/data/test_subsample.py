"""explorer.data.subsample_indices: the one seeded subset (readers, reconstructions, inverted points)."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.data import load_dataset, subsample_indices
from explorer.data._common import kept_indices
from explorer.errors import DatasetError


def test_seeded_sorted_without_replacement():
    a = subsample_indices(1000, 50, 7)
    ref = np.sort(np.random.default_rng(7).choice(1000, size=50, replace=False))
    np.testing.assert_array_equal(a, ref)
    assert a.dtype == np.int64 and len(np.unique(a)) == 50 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, subsample_indices(1000, 50, 8))


def test_everything_when_no_limit_or_limit_not_below_n():
    for limit in (None, 10, 11, 10_000):
        np.testing.assert_array_equal(subsample_indices(10, limit, 0), np.arange(10))
        assert kept_indices(10, limit, 0) is None  # the readers keep everything without copying
    np.testing.assert_array_equal(kept_indices(10, 3, 0), subsample_indices(10, 3, 0))


@pytest.mark.parametrize("limit", [0, -1, 2.5])
def test_bad_limit_is_one_sentence(limit):
    with pytest.raises(DatasetError, match="positive whole number"):
        subsample_indices(10, limit, 0)


def test_a_limited_dataset_holds_the_images_at_those_indices():
    full = load_dataset("digits")
    part = load_dataset("digits", limit=25, seed=3)
    np.testing.assert_array_equal(part.images, full.images[subsample_indices(len(full), 25, 3)])
