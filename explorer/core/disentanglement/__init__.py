"""Disentanglement scores against ground-truth factors (β-VAE, FactorVAE, MIG, SAP, DCI, modularity, explicitness)."""

from explorer.core.disentanglement.run import (
    DisentanglementResult,
    DisentanglementSettings,
    evaluate_disentanglement,
    representation,
)

__all__ = ["DisentanglementResult", "DisentanglementSettings", "evaluate_disentanglement", "representation"]
