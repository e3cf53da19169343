"""Likelihood of images under a model: ELBO/IWAE, AIS with BDMC, Parzen window; nats and bits/dim."""

from explorer.core.likelihood.ais import AISRun, BDMCResult, ais_log_likelihood, bdmc, run_ais, sigmoid_schedule
from explorer.core.likelihood.bounds import NonFiniteError, iwae_from_log_weights, log_importance_weights
from explorer.core.likelihood.kde import KDE_WARNING, parzen_log_density, select_sigma, squared_distances
from explorer.core.likelihood.run import (
    DEFAULT_N_IMAGES,
    ESTIMATORS,
    LikelihoodError,
    LikelihoodResult,
    LikelihoodSettings,
    estimate_likelihood,
    iwae_unavailable,
)
from explorer.core.likelihood.units import UNITS, binarise, bits_per_dim, dequantise, discrete_nll_from_dequantised

__all__ = [
    "AISRun", "BDMCResult", "DEFAULT_N_IMAGES", "ESTIMATORS", "KDE_WARNING", "LikelihoodError", "LikelihoodResult",
    "LikelihoodSettings", "NonFiniteError", "UNITS", "ais_log_likelihood", "bdmc", "binarise", "bits_per_dim",
    "dequantise", "discrete_nll_from_dequantised", "estimate_likelihood", "iwae_from_log_weights", "iwae_unavailable",
    "log_importance_weights", "parzen_log_density", "run_ais", "select_sigma", "sigmoid_schedule", "squared_distances",
]
