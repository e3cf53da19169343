"""Factor values by name where they are shown: the colour-by-factor legend and the attribute vectors' groups."""

from __future__ import annotations

import numpy as np

import resources
from explorer.core.session.directions import compute_directions
from tests.core.test_session import new_session

BETAVAE_DSPRITES = resources.path("checkpoints", "betavae_dsprites.pt")


def test_dsprites_legend_and_groups_say_square_ellipse_heart(tmp_path):
    s = new_session(tmp_path)
    s.run(s.open_dataset("dsprites", None, 300, 0))
    tasks = [t for m in s.add_models([BETAVAE_DSPRITES]) for t in s.open_model_tasks(m)]
    s.run_all(tasks + s.follow_up())
    s.set_colour("factor", 0)
    shape = s.colouring()
    assert shape.title == "shape" and shape.names == ("square", "ellipse", "heart")
    # each point's legend entry is the class name of its label (shape value − 1, the documented order)
    np.testing.assert_array_equal(shape.categories, s.dataset.labels[s.active.codes.indices]
                                  if s.active.codes.indices is not None else s.dataset.labels)
    s.set_colour("factor", 1)
    assert s.colouring().names == ("scale 0.5", "scale 0.6", "scale 0.7", "scale 0.8", "scale 0.9", "scale 1")
    s.set_colour("factor", 2)
    assert s.colouring().categories is None and s.colouring().title == "orientation"  # 40 values: a colour bar
    (d,) = compute_directions(s, None, "attribute", by="factor", target=(0, 2), reference=None)
    assert d.name == "heart − rest"
    (d,) = compute_directions(s, None, "attribute", by="factor", target=(1, 5), reference=(1, 0))
    assert d.name == "scale 1 − scale 0.5"
