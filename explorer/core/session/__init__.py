"""The session: everything a window shows, Qt-free, with typed change events that views observe.

``model`` holds :class:`Session` (dataset, models, the tasks it asks to run), ``state`` what it
holds per model, ``views`` its view-side methods (colouring, selection, sliders, keypoints),
``analysis`` the tasks that compute (GAN points, projections, k-means), ``tasks`` how they are run,
``device`` where models compute, ``evaluations`` each model's judging results, ``files`` the ``.lxs``
session files and ``results`` their companion ``.npz``.
"""

from explorer.core.session.model import Session
from explorer.core.session.state import (
    COLOUR_MODES,
    TASK_FAMILIES,
    ClusteringSettings,
    Colour,
    DatasetSpec,
    GanPoints,
    Keypoint,
    ModelState,
    Task,
)

__all__ = ["Session", "ModelState", "DatasetSpec", "Task", "Keypoint", "ClusteringSettings", "Colour",
           "GanPoints", "COLOUR_MODES", "TASK_FAMILIES"]
