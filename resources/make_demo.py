"""Reproduce every bundled demo checkpoint with the project's own `latent-explorer train`.

Usage (from the repository root, after installing the package)::

    python resources/make_demo.py                 # train all of them, then write provenance
    python resources/make_demo.py --only vae_fashion ali_fashion
    python resources/make_demo.py --provenance-only

Needs Fashion-MNIST's train split (``apt-get install dataset-fashion-mnist`` or
``$LATENT_EXPLORER_DATA``). Each checkpoint gets ``NAME.provenance.json`` (command, seed,
epochs, wall time, final losses, test reconstruction PSNR where the model has an encoder,
every disentanglement score for the dSprites demos (``--disentanglement reference|fast``),
and what samples and reconstructions look like, from ``appearance.json``, written by a
person who looked at the preview PNGs) and previews ``NAME.samples.png`` /
``NAME.reconstructions.png``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "checkpoints"
THREADS = 1  # one torch thread per run: reproducible, and two runs share a 2-core machine

#: name -> arguments of `latent-explorer train`
DEMOS = {
    "vae_fashion": ["vae", "--data", "fashion-mnist", "--split", "train", "--latent-dim", "16",
                    "--epochs", "12", "--seed", "0"],
    "betavae_dsprites": ["vae", "--data", "dsprites", "--limit", "30000", "--latent-dim", "10",
                         "--beta", "4", "--epochs", "10", "--seed", "0"],
    # β-TCVAE (Chen et al. 2018): β = 6 weighs the total correlation; β chosen before training, not tuned
    "betatcvae_dsprites": ["vae", "--data", "dsprites", "--limit", "30000", "--latent-dim", "10",
                           "--objective", "beta_tcvae", "--beta", "6", "--epochs", "10", "--seed", "0"],
    # the plain VAE (β = 1) on the same data, the baseline of the disentanglement table
    "vae_dsprites": ["vae", "--data", "dsprites", "--limit", "30000", "--latent-dim", "10",
                     "--beta", "1", "--epochs", "10", "--seed", "0"],
    "dcgan_fashion": ["dcgan", "--data", "fashion-mnist", "--split", "train", "--latent-dim", "32",
                      "--epochs", "15", "--seed", "0"],
    "ali_fashion": ["ali", "--data", "fashion-mnist", "--split", "train", "--latent-dim", "32",
                    "--epochs", "12", "--seed", "0"],
}


def train(name: str) -> None:
    """Run `latent-explorer train` for one demo (its progress bar goes to stderr)."""
    out = (OUT / f"{name}.pt").relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT / f"{name}.pt"
    cmd = [sys.executable, "-m", "explorer", "train", *DEMOS[name], "--threads", str(THREADS), "--out", str(out)]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def _grid(images: np.ndarray, ncols: int) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> a tile image (uint8, 2-D for grey) with 1-px white gaps."""
    from explorer.core.figures import tile_images

    n, c, h, w = images.shape
    rows = -(-n // ncols)
    cells = np.ones((rows * ncols, c, h, w), np.float32)
    cells[:n] = images
    tile = tile_images(cells.reshape(rows, ncols, c, h, w), pad_px=1, bg=1.0)
    return tile[..., 0] if tile.shape[-1] == 1 else tile


#: Settings of the disentanglement scores written into the dSprites demos' provenance
#: ("reference" = disentanglement_lib's; `--disentanglement fast` for a quick look).
DISENTANGLEMENT_SETTINGS = "reference"


def disentanglement_record(model, settings: str) -> dict:
    """Every disentanglement score of a dSprites demo (procedural dSprites, seed 0), with its settings."""
    from explorer.core.disentanglement import DisentanglementSettings, evaluate_disentanglement
    from explorer.data import generate_dsprites

    t0 = time.perf_counter()
    result = evaluate_disentanglement(model, generate_dsprites(64, seed=0), DisentanglementSettings.named(settings),
                                      seed=0)
    return {**result.record, "carriers": dict(zip(result.factor_names, result.carriers, strict=True)),
            "wall_time_s": round(time.perf_counter() - t0, 1)}


def provenance(name: str) -> dict:
    """Measure one demo checkpoint and write its provenance JSON and preview PNGs."""
    from PIL import Image

    from explorer.core.codes import decode_codes, encode_images, prior_codes
    from explorer.core.reconstruction.reconstruct import psnr
    from explorer.data import fit_to_model, load_dataset
    from models.loading import load_any

    path = OUT / f"{name}.pt"
    model, info = load_any(path)
    data_name = info["dataset"]
    test = (load_dataset("dsprites", limit=2000, seed=12345) if data_name == "dsprites"
            else load_dataset(data_name, split="test"))
    test = fit_to_model(test, model.image_shape)
    record = {
        "checkpoint": path.name,
        "command": info["command"],
        "seed": info["seed"],
        "epochs": info["epochs"],
        "wall_time_s": round(float((info.get("extra") or {}).get("wall_time_s", float("nan"))), 1),
        "torch_threads": THREADS,
        "final_losses": {k: round(float(v), 4) for k, v in info["history_final"].items()},
        "kind": info["kind"], "latent_dim": info["latent_dim"], "image_shape": info["image_shape"],
        "parameters": info["parameters"], "file_bytes": path.stat().st_size,
        "train_data": (f"{data_name} " + ("procedural generator" if data_name == "dsprites" else "train split")),
    }
    z = prior_codes(model, 64, seed=0)
    Image.fromarray(_grid(decode_codes(model, z), 8)).save(OUT / f"{name}.samples.png")
    if model.has_encoder:
        x = test.images
        xr = decode_codes(model, encode_images(model, x))
        record["test_reconstruction_psnr_db"] = round(float(psnr(x, xr, data_range=1.0).mean()), 2)
        record["test_reconstruction_psnr_note"] = (
            f"mean over {len(x):,} {'generated dSprites' if data_name == 'dsprites' else 'test'} images, "
            "data range 1.0, reconstruction = decode(encode(x)) with the posterior mean")
        pairs = np.concatenate([x[:16], xr[:16]])
        Image.fromarray(_grid(pairs, 16)).save(OUT / f"{name}.reconstructions.png")
    if data_name == "dsprites" and model.has_encoder:
        record["disentanglement"] = disentanglement_record(model, DISENTANGLEMENT_SETTINGS)
    appearance = json.loads((HERE / "checkpoints" / "appearance.json").read_text()) \
        if (HERE / "checkpoints" / "appearance.json").exists() else {}
    record["appearance"] = appearance.get(name, "not yet described: look at the preview PNGs")
    (OUT / f"{name}.provenance.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=sorted(DEMOS), help="demos to make (default: all)")
    ap.add_argument("--provenance-only", action="store_true", help="skip training; re-measure existing files")
    ap.add_argument("--disentanglement", choices=["reference", "fast"], default="reference",
                    help="settings of the disentanglement scores of the dSprites demos (default: reference)")
    args = ap.parse_args()
    global DISENTANGLEMENT_SETTINGS
    DISENTANGLEMENT_SETTINGS = args.disentanglement
    names = args.only or list(DEMOS)
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names:
        if not args.provenance_only:
            t0 = time.perf_counter()
            train(name)
            print(f"{name}: trained in {time.perf_counter() - t0:.0f} s", flush=True)
        print(json.dumps(provenance(name), indent=2), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
