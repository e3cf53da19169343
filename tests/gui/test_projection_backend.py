"""The Projection panel's UMAP backend: umap-learn, or cuML where it is installed (disabled and said otherwise)."""

from __future__ import annotations

from explorer.core.projection.cuml_umap import cuml_available
from explorer.core.projection.spec import ProjectionSpec


def test_the_backend_is_part_of_the_umap_spec_and_cuml_is_offered_only_where_installed(make_window):
    w = make_window()
    panel = w.projection_panel
    panel.method_combo.setCurrentIndex(panel.method_combo.findData("umap"))
    assert panel._form.isRowVisible(panel.backend_combo)
    assert panel.spec() == ProjectionSpec("umap", {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean"})
    cuml = panel.backend_combo.model().item(1)
    assert cuml.isEnabled() == cuml_available()
    if not cuml_available():
        assert "not installed" in cuml.toolTip()
    panel.set_spec(ProjectionSpec("umap", {"backend": "cuml"}, seed=4))  # e.g. a session made on a GPU server
    assert panel.backend_combo.currentData() == "cuml" and panel.spec().params["backend"] == "cuml"
    panel.method_combo.setCurrentIndex(panel.method_combo.findData("tsne"))
    assert not panel._form.isRowVisible(panel.backend_combo) and "backend" not in panel.spec().params
