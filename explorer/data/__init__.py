"""Datasets of Latent Explorer: IDX, NPZ/NPY, image folders, named datasets and procedural dSprites."""

from explorer.data._common import subsample_indices
from explorer.data.dataset import DEFAULT_RESIZE, RESIZE_METHODS, Dataset
from explorer.data.dsprites import generate as generate_dsprites
from explorer.data.dsprites import render as render_dsprites
from explorer.data.fit import fit_to_model, resize_images
from explorer.data.named import DATASET_NAMES, load_dataset

__all__ = [
    "DATASET_NAMES",
    "DEFAULT_RESIZE",
    "RESIZE_METHODS",
    "Dataset",
    "fit_to_model",
    "generate_dsprites",
    "load_dataset",
    "render_dsprites",
    "resize_images",
    "subsample_indices",
]
