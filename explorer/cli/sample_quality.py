"""`latent-explorer train classifier` and the printed lines of `evaluate --metrics sample-quality`."""

from __future__ import annotations

import shlex
import sys

from explorer.errors import UserError


def cmd_train_classifier(args) -> int:
    """Train the domain classifier (`explorer.core.sample_quality.training.train_classifier`) with a progress bar."""
    import torch
    from tqdm import tqdm

    from explorer.cli.args import device_from_args
    from explorer.core.jobs import JobContext
    from explorer.core.sample_quality.training import DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, train_classifier
    from explorer.data import load_dataset
    from explorer.errors import DatasetError

    device = device_from_args(args)  # a missing device: one sentence before any work
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.latent_dim is not None or args.beta != 1.0:
        raise UserError("--latent-dim and --beta apply to generative models, not to the classifier.")
    train = load_dataset(args.data, split=args.split, limit=args.limit, seed=args.seed)
    for note in train.notes:
        print(note, file=sys.stderr)
    if train.labels is None:
        raise UserError(f"--data {args.data!r} has no labels; a classifier is trained on labelled images.")
    test = None
    if train.split != "test":
        try:
            test = load_dataset(args.data, split="test")
        except (DatasetError, ValueError) as exc:
            print(f"no test split to measure accuracy on ({exc})", file=sys.stderr)
        if test is not None and test.split != "test":
            print(f"--data {args.data!r} has no test split; no test accuracy is recorded.", file=sys.stderr)
            test = None
    epochs = args.epochs or DEFAULT_EPOCHS
    bar = tqdm(total=1.0, unit="", desc="train classifier", file=sys.stderr,
               bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}")

    def progress(fraction: float, message: str) -> None:
        bar.n = fraction
        bar.set_description(message, refresh=False)
        bar.refresh()

    try:
        prov = train_classifier(train, args.out, test=test, epochs=epochs,
                                batch_size=args.batch_size or DEFAULT_BATCH_SIZE, seed=args.seed,
                                command="latent-explorer " + shlex.join(args.argv),
                                torch_threads=torch.get_num_threads(), ctx=JobContext(progress), device=device)
    except KeyboardInterrupt:
        bar.close()
        print(f"training interrupted; nothing written to {args.out}", file=sys.stderr)
        return 130
    except ValueError as exc:
        raise UserError(str(exc)) from None
    finally:
        bar.close()
    acc = prov["test_accuracy"]
    print(f"saved {args.out} after {prov['wall_time_s']:.1f} s on {prov['device']}; test accuracy "
          + ("n/a" if acc is None else f"{100 * acc:.2f} % on {prov['n_test']:,} {prov['test_data']} images"))
    return 0


def _v(x, fmt: str = ".4g", scale: float = 1.0) -> str:
    return "n/a" if x is None else f"{x * scale:{fmt}}"


def format_metrics(r: dict) -> str:
    """``FID …, KID ×10³ … ± …, IS … ± …, precision …, recall …, density …, coverage …`` of one record."""
    return (f"FID {_v(r['fid'], '.3f')}, KID ×10³ {_v(r['kid'], '.3f', 1e3)} ± {_v(r['kid_std'], '.3f', 1e3)}, "
            f"IS {_v(r['is'], '.3f')} ± {_v(r['is_std'], '.3f')}, precision {_v(r['precision'], '.3f')}, "
            f"recall {_v(r['recall'], '.3f')}, density {_v(r['density'], '.3f')}, coverage {_v(r['coverage'], '.3f')}")


def format_sample_quality(checkpoint: str, rec: dict, recon: dict | None = None) -> str:
    """The lines `evaluate` prints for a ``"sample_quality"`` record (KID printed × 10³, as papers do)."""
    lines = [f"{checkpoint}: sample quality of N = {rec['n_samples']:,} prior samples vs the {rec['real_set']}, "
             f"features of {rec['extractor']} (KID printed × 10³):",
             f"  model : {format_metrics(rec)}"]
    floor = rec.get("floor")
    if floor:
        lines.append(f"  floor : {format_metrics(floor)}  [{floor['compared_set']} vs the real set, same N]")
    if recon:
        lines.append(f"  recons: {format_metrics(recon)}  [decode(encode(x)) vs x, N = {recon['n_samples']:,}]")
    m = rec.get("memorisation")
    if m:
        lines.append(
            f"  memorisation: of {m['n_samples']:,} samples, {100 * m['pixel']['fraction']:.1f} % (pixels) and "
            f"{100 * m['feature']['fraction']:.1f} % (features) lie closer to a training image than "
            f"{100 * m['quantile']:g} % of {m['n_held_out']:,} held-out test images do — "
            + ("FLAGGED: the generator may be copying training images" if m["flagged"] else "not flagged"))
    return "\n".join(lines)
