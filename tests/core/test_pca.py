"""explorer.core.projection.pca against scikit-learn's PCA, and the estimators' contract without scikit-learn."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.decomposition import PCA

from explorer.core.projection.estimators import PCAProjection
from explorer.core.projection.pca import PrincipalComponents


@pytest.mark.parametrize("n,d,seed", [(10_000, 16, 0), (300, 2, 1), (50, 40, 2)])
def test_principal_components_equal_scikit_learn(n, d, seed):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, d)) * np.linspace(3.0, 0.2, d) @ np.linalg.qr(rng.normal(size=(d, d)))[0] + 1.5)
    x = x.astype(np.float32)
    ref = PCA(n_components=2).fit(x.astype(np.float64))
    ours = PrincipalComponents(2).fit(x)
    np.testing.assert_allclose(ours.components_, ref.components_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-9)
    np.testing.assert_allclose(ours.transform(x), ref.transform(x.astype(np.float64)), rtol=0, atol=1e-8)
    # on the float32 codes as the window has them, scikit-learn computes in float32: equal to that precision
    np.testing.assert_allclose(ours.fit_transform(x), PCA(n_components=2).fit_transform(x), rtol=0, atol=2e-4)


def test_pca_refuses_too_few_points_or_dimensions():
    with pytest.raises(ValueError, match="needs"):
        PrincipalComponents(2).fit(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="needs"):
        PrincipalComponents(2).fit(np.zeros((5, 1)))
    flat = PrincipalComponents(2).fit(np.ones((4, 3)))  # no variance: ratios 0, not NaN
    assert np.array_equal(flat.explained_variance_ratio_, [0.0, 0.0])


def test_estimator_contract_and_not_fitted_error_without_importing_scikit_learn_first():
    from sklearn.exceptions import NotFittedError

    est = PCAProjection(random_state=3)
    assert est.get_params() == {"random_state": 3} and est.set_params(random_state=4).random_state == 4
    assert repr(est) == "PCAProjection(random_state=4)"
    with pytest.raises(ValueError, match="invalid parameter 'k'"):
        est.set_params(k=1)
    with pytest.raises(NotFittedError):
        est.transform(np.zeros((2, 3), np.float32))
    code = ("import sys, numpy as np; from explorer.core.projection.estimators import compute_projection; "
            "from explorer.core.projection.spec import ProjectionSpec; "
            "compute_projection(np.random.default_rng(0).normal(size=(100, 5)), ProjectionSpec('pca')); "
            "print(sorted(m for m in ('sklearn', 'scipy', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # the first embedding of a start-up loads none of them
