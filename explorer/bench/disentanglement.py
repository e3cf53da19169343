"""Benchmark section "disentanglement": the fast settings end to end and the reference DCI, on the demo β-VAE."""

from __future__ import annotations

import os
import time

import numpy as np

from explorer.bench.registry import section


def demo_betavae():
    """The bundled β-VAE trained on dSprites (``resources/checkpoints/betavae_dsprites.pt``)."""
    import resources
    from models.loading import load_any

    model, _ = load_any(resources.path("checkpoints", "betavae_dsprites.pt"))
    return model


@section("disentanglement")
def bench_disentanglement(seed: int = 0) -> dict:
    """Seconds of the fast settings (every score) and of the reference DCI alone, on the demo β-VAE.

    ``disentanglement_fast_s``: wall seconds of `evaluate_disentanglement` with
    `DisentanglementSettings.fast` on procedural dSprites (encoder mean as representation).
    ``disentanglement_reference_dci_s``: wall seconds of the reference DCI
    (``GradientBoostingClassifier`` defaults, 10,000 training / 5,000 test points; the
    encoding of those points is not counted). Also prints each score under both
    settings (``*_fast`` / ``*_reference``; the β-VAE and FactorVAE scores only fast: their
    reference needs about 2 million encoded images) and the CPU seconds of both timings
    (``*_cpu_s``), since wall time on a shared machine says little alone.
    ``disentanglement_fast_dci_s`` / ``_cpu_s``: the fast DCI alone on the same points as the
    reference DCI; ``disentanglement_dci_speedup_cpu``: reference CPU s ÷ fast CPU s;
    ``disentanglement_dci_max_abs_diff``: the largest of the three |fast − reference| DCI
    differences (goal ≤ 0.02); ``disentanglement_load_average``: 1/5/15-minute load averages
    before and after.
    """
    import torch

    from explorer.core.disentanglement import DisentanglementSettings, evaluate_disentanglement
    from explorer.core.disentanglement import metrics as m
    from explorer.core.disentanglement.run import factor_points, representation
    from explorer.data import generate_dsprites
    from explorer.data.factors import factor_sampler

    torch.set_num_threads(1)
    load_before = [round(v, 2) for v in os.getloadavg()]
    model = demo_betavae()
    ds = generate_dsprites(64, seed=seed)
    out: dict = {}
    t0, c0 = time.perf_counter(), time.process_time()
    fast = evaluate_disentanglement(model, ds, DisentanglementSettings.fast(), seed=seed).record
    out["disentanglement_fast_s"] = round(time.perf_counter() - t0, 1)
    out["disentanglement_fast_cpu_s"] = round(time.process_time() - c0, 1)

    ref = DisentanglementSettings.reference()
    sampler, _ = factor_sampler(ds)
    represent, _ = representation(model)
    ztr, ytr, zte, yte = factor_points(ds, sampler, ref.n_train, ref.n_test, represent,
                                       np.random.default_rng([seed, 0]))
    t0, c0 = time.perf_counter(), time.process_time()
    dci = m.dci(ztr, ytr, zte, yte, "gbt", seed=seed)
    out["disentanglement_reference_dci_s"] = round(time.perf_counter() - t0, 1)
    out["disentanglement_reference_dci_cpu_s"] = round(time.process_time() - c0, 1)
    fast_settings = DisentanglementSettings.fast()
    t0, c0 = time.perf_counter(), time.process_time()
    m.dci(ztr[:fast_settings.dci_train], ytr[:fast_settings.dci_train], zte[:fast_settings.dci_test],
          yte[:fast_settings.dci_test], fast_settings.dci_classifier, seed=seed)
    out["disentanglement_fast_dci_s"] = round(time.perf_counter() - t0, 1)
    out["disentanglement_fast_dci_cpu_s"] = round(time.process_time() - c0, 1)
    out["disentanglement_dci_speedup_cpu"] = round(out["disentanglement_reference_dci_cpu_s"]
                                                   / max(out["disentanglement_fast_dci_cpu_s"], 1e-9), 1)
    mig, mi = m.mig(ztr, ytr, ref.bins)
    reference = {"mig": mig, "sap": m.sap(ztr, ytr, zte, yte, c=ref.sap_c, seed=seed)[0],
                 "dci_disentanglement": dci["disentanglement"], "dci_completeness": dci["completeness"],
                 "dci_informativeness": dci["informativeness"], "modularity": m.modularity_from_mi(mi.T),
                 "explicitness": m.explicitness(ztr, ytr, zte, yte, seed=seed)[0]}
    flat_fast = {"beta_vae": fast["beta_vae"], "factor_vae": fast["factor_vae"], "mig": fast["mig"],
                 "sap": fast["sap"], "dci_disentanglement": fast["dci"]["disentanglement"],
                 "dci_completeness": fast["dci"]["completeness"],
                 "dci_informativeness": fast["dci"]["informativeness"], "modularity": fast["modularity"],
                 "explicitness": fast["explicitness"]}
    for k, v in flat_fast.items():
        out[f"disentanglement_{k}_fast"] = round(float(v), 4)
        if k in reference:
            out[f"disentanglement_{k}_reference"] = round(float(reference[k]), 4)
    out["disentanglement_dci_max_abs_diff"] = round(max(
        abs(float(fast["dci"][k]) - float(dci[k])) for k in ("disentanglement", "completeness", "informativeness")), 4)
    out["disentanglement_fast_dci_classifier"] = fast_settings.dci_classifier
    out["disentanglement_sklearn_version"] = fast["sklearn_version"]
    out["disentanglement_load_average"] = {"before": load_before, "after": [round(v, 2) for v in os.getloadavg()]}
    return out
