"""Reproduce every bundled demo checkpoint with the project's own `latent-explorer train`.

Usage (from the repository root, after installing the package)::

    python resources/make_demo.py                 # train all four, then write provenance
    python resources/make_demo.py --only vae_fashion ali_fashion
    python resources/make_demo.py --provenance-only

Needs Fashion-MNIST's train split (``apt-get install dataset-fashion-mnist`` or
``$LATENT_EXPLORER_DATA``). Each checkpoint gets ``NAME.provenance.json`` (command, seed,
epochs, wall time, final losses, test reconstruction PSNR where the model has an encoder,
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
    """(N, C, H, W) in [0, 1] -> (rows*H, ncols*W) or (..., 3) uint8 tile image, 1-px gaps."""
    n, c, h, w = images.shape
    rows = -(-n // ncols)
    canvas = np.ones((c, rows * (h + 1) + 1, ncols * (w + 1) + 1), np.float32)
    for i, img in enumerate(images):
        r, q = divmod(i, ncols)
        canvas[:, 1 + r * (h + 1):1 + r * (h + 1) + h, 1 + q * (w + 1):1 + q * (w + 1) + w] = img
    canvas = (canvas.transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
    return canvas[..., 0] if c == 1 else canvas


def provenance(name: str) -> dict:
    """Measure one demo checkpoint and write its provenance JSON and preview PNGs."""
    import torch
    from PIL import Image

    from explorer.core.codes import decode_codes, encode_images, prior_codes
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
        mse = ((x - xr) ** 2).reshape(len(x), -1).mean(axis=1)
        psnr = 10 * np.log10(1.0 / np.maximum(mse, 1e-12))
        record["test_reconstruction_psnr_db"] = round(float(psnr.mean()), 2)
        record["test_reconstruction_psnr_note"] = (
            f"mean over {len(x):,} {'generated dSprites' if data_name == 'dsprites' else 'test'} images, "
            "data range 1.0, reconstruction = decode(encode(x)) with the posterior mean")
        pairs = np.concatenate([x[:16], xr[:16]])
        Image.fromarray(_grid(pairs, 16)).save(OUT / f"{name}.reconstructions.png")
    appearance = json.loads((HERE / "checkpoints" / "appearance.json").read_text()) \
        if (HERE / "checkpoints" / "appearance.json").exists() else {}
    record["appearance"] = appearance.get(name, "not yet described: look at the preview PNGs")
    (OUT / f"{name}.provenance.json").write_text(json.dumps(record, indent=2) + "\n")
    torch.set_num_threads(torch.get_num_threads())
    return record


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=sorted(DEMOS), help="demos to make (default: all)")
    ap.add_argument("--provenance-only", action="store_true", help="skip training; re-measure existing files")
    args = ap.parse_args()
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
