"""Moving through the latent space: ``sliders`` (decode a code, per-dimension scores), ``traversal``
(grids and cycles along dimensions), ``interpolation`` (lerp / slerp paths) and ``movie`` (GIF / MP4).

Import the submodules; this package imports nothing.
"""
