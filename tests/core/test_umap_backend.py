"""``--umap-backend umap-learn|cuml``: cuML where it is installed, one sentence where it is not (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.cli import main
from explorer.core.projection.cuml_umap import UMAPBackendError, check_umap_backend, cuml_available
from explorer.core.projection.estimators import UMAPProjection, make_estimator
from explorer.core.projection.spec import ProjectionSpec

no_cuml = pytest.mark.skipif(cuml_available(), reason="RAPIDS cuML is installed here")


def test_the_default_backend_keeps_the_keys_and_labels_of_before():
    spec = ProjectionSpec("umap")
    assert spec.params["backend"] == "umap-learn"
    assert spec.key() == ('umap:metric="euclidean",min_dist=0.1,n_epochs=200,n_neighbors=15;seed=0')
    assert "backend" not in spec.label()
    cu = ProjectionSpec("umap", {"backend": "cuml"})
    assert cu.key() != spec.key() and 'backend="cuml"' in cu.key() and "backend=cuml" in cu.label()
    assert ProjectionSpec("umap", {"backend": "umap-learn"}) == spec
    with pytest.raises(ValueError, match="backend must be one of umap-learn, cuml"):
        ProjectionSpec("umap", {"backend": "gpu"})
    assert make_estimator(cu).backend == "cuml"


@no_cuml
def test_cuml_not_installed_is_one_sentence_before_and_at_the_fit():
    check_umap_backend("umap-learn")
    with pytest.raises(UMAPBackendError, match="RAPIDS cuML is not installed") as exc:
        check_umap_backend("cuml")
    assert "\n" not in str(exc.value)
    x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    with pytest.raises(UMAPBackendError, match="RAPIDS cuML is not installed"):
        UMAPProjection(n_neighbors=5, backend="cuml").fit(x)


@no_cuml
def test_session_create_with_cuml_says_it_is_not_installed(tmp_path, capsys):
    import resources

    vae = str(resources.path("checkpoints", "vae_fashion.pt"))
    out = tmp_path / "s.lxs"
    common = ["session", "create", vae, "--data", "fashion-mnist", "--limit", "30", "--out", str(out)]
    assert main([*common, "--projection", "umap", "--umap-backend", "cuml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--umap-backend cuml" in err[0] and "not installed" in err[0]
    assert main([*common, "--umap-backend", "cuml"]) == 2  # with the default --projection pca
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "applies to --projection umap" in err[0]
    assert not out.exists()


@no_cuml
@pytest.mark.parametrize("command", ["evaluate", "compare"])
def test_evaluate_and_compare_take_the_umap_backend_and_refuse_it_in_one_sentence(tmp_path, capsys, command):
    import resources

    vae = str(resources.path("checkpoints", "vae_fashion.pt"))
    out = tmp_path / ("e.json" if command == "evaluate" else "report")
    common = [command, vae, "--data", "fashion-mnist", "--limit", "30",
              *(["--json", str(out)] if command == "evaluate" else ["--out", str(out)])]
    assert main([*common, "--space", "embedding", "--projection", "umap", "--umap-backend", "cuml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--umap-backend cuml" in err[0] and "not installed" in err[0]
    assert main([*common, "--umap-backend", "cuml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "applies to --projection umap" in err[0]
    assert not out.exists()


def test_a_umap_embedding_clustered_by_evaluate_records_its_backend(tmp_path):
    import json

    import resources

    vae = str(resources.path("checkpoints", "vae_fashion.pt"))
    out = tmp_path / "e.json"
    assert main(["evaluate", vae, "--data", "fashion-mnist", "--limit", "200", "--space", "embedding",
                 "--projection", "umap", "--umap-backend", "umap-learn", "--json", str(out)]) == 0
    c = json.loads(out.read_text())["models"][0]["clustering"]
    assert c["projection"] == "umap" and c["umap_backend"] == "umap-learn"


def test_the_named_spec_carries_the_backend_only_for_umap():
    from explorer.core.projection.spec import ProjectionSpec, named_spec

    assert named_spec("umap", 3) == ProjectionSpec("umap", seed=3)
    assert named_spec("umap", 3, "cuml").params["backend"] == "cuml"
    assert named_spec("pca", 1) == ProjectionSpec("pca", seed=1)
    with pytest.raises(ValueError, match="applies to --projection umap"):
        named_spec("tsne", 0, "cuml")
