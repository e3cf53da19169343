"""The `latent-explorer` command: GUI by default, plus headless subcommands."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from explorer.cli.args import (
    Parser,
    add_device_argument,
    add_umap_backend_argument,
    check_output_path,
    finite_float,
    int_in,
    positive_int,
)
from explorer.cli.args import add_data_args as _add_data_args
from explorer.errors import UserError
from explorer.logs import log, setup_logging

KIND_OF_TRAIN = {"vae": "vae", "dcgan": "gan", "ali": "ali"}
SUBCOMMANDS = ("open", "train", "info", "evaluate", "render", "session", "bench")
SUBCOMMANDS += ("compare",)  # explorer.cli.compare


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``latent-explorer`` (subcommands: open, train, info, bench)."""
    parser = Parser(
        prog="latent-explorer",
        description="Explore the latent spaces of VAEs, GANs and ALI/BiGANs. "
                    "With no subcommand, opens the window on the bundled demo.")
    from explorer import __version__

    parser.add_argument("--version", action="version", version=f"latent-explorer {__version__}")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("open", help="open the window on checkpoints or adapters, or on a session file (.lxs)")
    p.add_argument("checkpoints", nargs="*", metavar="CKPT_OR_ADAPTER_OR_SESSION")
    _add_data_args(p, split_default="test")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("train", help="train a VAE, DCGAN or ALI (or the sample-quality classifier); save a checkpoint")
    p.add_argument("model", choices=sorted(KIND_OF_TRAIN) + ["classifier"])
    _add_data_args(p, split_default="train")
    p.add_argument("--latent-dim", type=int_in(1, 65_536), default=None, metavar="N",
                   help="dimension of z (required for vae, dcgan and ali)")
    p.add_argument("--beta", type=finite_float(0.0), default=1.0, help="weight of the KL term (β-VAE); VAE only")
    p.add_argument("--likelihood", choices=["bernoulli", "gaussian"], default="bernoulli",
                   help="decoder likelihood p(x|z); VAE only")
    p.add_argument("--objective", choices=["beta_vae", "beta_tcvae"], default="beta_vae",
                   help="VAE only: beta_vae weighs the KL by --beta (Higgins 2017); beta_tcvae weighs the "
                        "total correlation by --beta, estimated by minibatch-weighted sampling (Chen 2018)")
    p.add_argument("--kl-warmup", type=int_in(0, 100_000), default=0, metavar="EPOCHS",
                   help="VAE only (beta_vae objective): β rises linearly from 0 to --beta over the first EPOCHS "
                        "epochs, per optimisation step (KL warm-up, Bowman 2016; Sønderby 2016); default 0: none")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="passes over the data (required for vae, dcgan and ali; classifier default 15)")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--out", type=Path, required=True, metavar="PATH")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="torch CPU threads (results are bit-identical for the same seed and thread count)")
    add_device_argument(p, "the model trains")

    p = sub.add_parser("info", help="print what a checkpoint, adapter, TorchScript or session file holds")
    p.add_argument("checkpoint", type=Path, metavar="CKPT_OR_ADAPTER_OR_SESSION")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")

    p = sub.add_parser("evaluate", help="measure models on a dataset and write the figures as JSON")
    p.add_argument("checkpoints", nargs="+", metavar="CKPT_OR_ADAPTER")
    add_device_argument(p)
    _add_data_args(p, split_default="test", resize=True)
    p.add_argument("--metrics", nargs="+", choices=["clustering", "reconstruction", "sample-quality", "likelihood",
                                                    "disentanglement"],
                   default=["clustering"], help="which measurements to make (default: clustering); "
                   "disentanglement needs data with ground-truth factors (e.g. --data dsprites)")
    p.add_argument("--extractor", default="classifier", metavar="NAME|PATH",
                   help="sample quality: feature extractor — 'classifier' (the bundled Fashion-MNIST LeNet), a "
                        "classifier checkpoint, a feature adapter .py or an Inception-v3 TorchScript file "
                        "(the last two run their code); default: classifier")
    p.add_argument("--n-samples", type=positive_int, default=10_000, metavar="N",
                   help="sample quality: N samples from the prior; the floor uses the same N (default 10000)")
    p.add_argument("--real-split", choices=["test", "train"], default="test",
                   help="sample quality: the real set of --data the samples are compared with (default: test)")
    p.add_argument("--settings", choices=["reference", "fast"], default="reference",
                   help="disentanglement: disentanglement_lib's reference settings (10,000 / 5,000 points, "
                        "slow: minutes to an hour) or the fast ones (default: reference)")
    p.add_argument("--precision", nargs="+", default=["float32"], metavar="P",
                   help="reconstruction: code precision(s), float32, float16 or kbit with k = 2..16 "
                        "(e.g. 8bit); the first fills \"reconstruction\", all are listed under "
                        "\"reconstruction_by_precision\" (default: float32)")
    p.add_argument("--n-images", type=positive_int, default=None, metavar="N",
                   help="reconstruction (and clustering with --gan-codes inverted): a seeded sample of N "
                        "images (default: all; 100 for a GAN without encoder, whose codes are found "
                        "by inversion)")
    p.add_argument("--sample", choices=["mean", "posterior"], default="mean",
                   help="reconstruction: VAE codes from the posterior mean or one seeded posterior draw")
    p.add_argument("--inversion-steps", type=int, default=None, metavar="N",
                   help="GAN inversion (GAN without encoder): Adam steps per restart (default 150)")
    p.add_argument("--inversion-restarts", type=positive_int, default=None, metavar="N",
                   help="GAN inversion (GAN without encoder): random restarts per image (default 4)")
    p.add_argument("--gan-codes", choices=["prior", "inverted"], default="prior",
                   help="clustering, GAN without encoder: cluster samples from the prior (no labels) or "
                        "the codes of N real images found by GAN inversion (see --n-images; default: prior)")
    p.add_argument("--no-cache", action="store_true",
                   help="do not read or keep inverted codes (nor sample quality's real-set features) in the "
                        "cache folder")
    p.add_argument("--k", type=positive_int, default=None,
                   help="number of k-means clusters (default: number of classes, else 10)")
    p.add_argument("--space", choices=["latent", "embedding"], default="latent",
                   help="cluster the full latent codes or their 2-D embedding (default: latent)")
    p.add_argument("--projection", choices=["pca", "umap", "tsne"], default="pca",
                   help="the 2-D embedding used with --space embedding (default: pca)")
    add_umap_backend_argument(p)
    _add_likelihood_args(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, metavar="OUT", help="write the results here (atomically)")

    p = sub.add_parser("render", help="render figures and movies headless (the same pixels as the window)")
    render_sub = p.add_subparsers(dest="render_kind", required=True,
                                  metavar="{traversal,interpolation,reconstructions,embedding}")
    from explorer.cli import reconstruction, session, traversal

    for module in (traversal, reconstruction, session):
        module.add_render_parsers(render_sub)
    session.add_session_parser(sub)
    from explorer.cli import compare

    compare.add_compare_parser(sub)

    p = sub.add_parser("bench", help="run the benchmark and print its figures")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the figures as one JSON object")
    p.add_argument("--only", nargs="*", metavar="SECTION", help="run only these sections")
    add_device_argument(p, "the 'device' section computes (the other sections use the CPU)")
    return parser


def _add_likelihood_args(p) -> None:
    """The options of ``evaluate --metrics likelihood`` (`explorer.core.likelihood.LikelihoodSettings`)."""
    p.add_argument("--estimator", choices=["iwae", "ais", "kde"], default="iwae",
                   help="likelihood: IWAE/ELBO (needs posterior and log_px_given_z), AIS (any decoder, Gaussian "
                        "observation model, BDMC gap) or a Parzen window on model samples (unreliable in high "
                        "dimensions); default iwae. --n-images defaults to 1,000 (AIS: 100)")
    p.add_argument("--iwae-k", type=positive_int, nargs="+", default=None, metavar="K",
                   help="likelihood, IWAE: the k of the bound L_k; the largest is reported, all are in "
                        "\"iwae_curve\" (default: 1 10 100 1000)")
    p.add_argument("--ais-steps", type=positive_int, default=None, metavar="T",
                   help="likelihood, AIS: intermediate distributions of the sigmoid schedule (default 1000)")
    p.add_argument("--ais-chains", type=positive_int, default=None, metavar="C",
                   help="likelihood, AIS: independent chains per image (default 4)")
    p.add_argument("--sigma", type=float, default=None, metavar="S",
                   help="likelihood: σ of AIS's Gaussian observation model, or the KDE bandwidth, in pixel units "
                        "of [0, 1] (default: chosen on held-out images)")
    p.add_argument("--binarize", action="store_true",
                   help="likelihood, Bernoulli decoder: evaluate seeded stochastic binarisations of the images "
                        "(without it a Bernoulli decoder on grey levels gets no bits/dim)")


def _likelihood_settings(args):
    """`LikelihoodSettings` from the ``evaluate`` options, or a `UserError` naming the bad one."""
    from explorer.core.likelihood import LikelihoodSettings

    kw = {"estimator": args.estimator, "n_images": args.n_images, "binarize": args.binarize, "seed": args.seed,
          "sigma": args.sigma}
    for opt, key in (("iwae_k", "iwae_k"), ("ais_steps", "ais_steps"), ("ais_chains", "ais_chains")):
        if getattr(args, opt) is not None:
            kw[key] = getattr(args, opt)
    try:
        return LikelihoodSettings(**kw)
    except ValueError as exc:
        raise UserError(f"bad likelihood settings: {exc}.") from None


def format_likelihood(rec: dict) -> str:
    """One line for a ``"likelihood"`` record: estimator, NLL in nats/image with its interval, bits/dim."""
    what = {"iwae": f"IWAE k={rec.get('k')}", "ais": f"AIS T={rec.get('ais_steps')}", "kde": "KDE"}[rec["estimator"]]
    ci = rec["nll_nats_ci95"]
    parts = [f"likelihood {what} on {rec['n_images']:,} images: NLL {rec['nll_nats']:.2f} nats/image"
             + (f" (95 % interval {ci[0]:.2f}–{ci[1]:.2f})" if ci else "") + " (lower is better)",
             "bits/dim " + ("n/a" if rec["bits_per_dim"] is None else f"{rec['bits_per_dim']:.4f}")]
    if rec.get("elbo_nats") is not None:
        parts.append(f"−ELBO {rec['elbo_nats']:.2f} nats/image")
    if rec.get("sigma") is not None:
        parts.append(f"σ {rec['sigma']:.4g}")
    if rec.get("bdmc_gap_nats") is not None:
        parts.append(f"BDMC gap {rec['bdmc_gap_nats']:.2f} nats")
    line = ", ".join(parts) + f" [{rec['data_convention'].split(';')[0]}]"
    return line + (f"\n  warning: {rec['warning']}" if rec.get("warning") else "")


def _load_data_for(args, image_shape=None):
    from explorer.data import fit_to_model, load_dataset

    ds = load_dataset(args.data, split=args.split, limit=args.limit, seed=getattr(args, "seed", 0))
    if image_shape is not None:
        ds = fit_to_model(ds, image_shape)
    return ds


def cmd_train(args) -> int:
    """Train a model with a live progress bar and save its checkpoint atomically."""
    import torch
    from tqdm import tqdm

    from explorer.limits import memory_shortfall
    from models.checkpoint import save_checkpoint
    from models.train import TrainingDiverged, TrainingOutOfMemory, make_trainer, training_memory

    if args.model == "classifier":
        from explorer.cli.sample_quality import cmd_train_classifier

        return cmd_train_classifier(args)
    if args.latent_dim is None or args.epochs is None:
        raise UserError(f"train {args.model} needs --latent-dim and --epochs.")
    from explorer.cli.args import device_from_args

    device = device_from_args(args)  # a missing device: one sentence before any work
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = _load_data_for(args)
    for note in ds.notes:
        print(note, file=sys.stderr)
    kind = KIND_OF_TRAIN[args.model]
    kwargs = {"seed": args.seed}
    if args.batch_size:
        kwargs["batch_size"] = args.batch_size
    if kind == "vae":
        kwargs.update(beta=args.beta, likelihood=args.likelihood)
        if args.objective != "beta_vae":
            kwargs["objective"] = args.objective
    elif args.beta != 1.0:
        raise UserError(f"--beta applies to the VAE only, not to {args.model}.")
    elif args.objective != "beta_vae":
        raise UserError(f"--objective applies to the VAE only, not to {args.model}.")
    if args.kl_warmup:  # KL warm-up: β from 0 to --beta over the first --kl-warmup epochs (models.train.VAETrainer)
        if kind != "vae" or args.objective != "beta_vae":
            raise UserError(f"--kl-warmup applies to the VAE with the beta_vae objective only, not to "
                            f"{args.model if kind != 'vae' else 'the ' + args.objective + ' objective'}.")
        if args.kl_warmup > args.epochs:
            raise UserError(f"--kl-warmup {args.kl_warmup} is more than --epochs {args.epochs}: β would never reach "
                            f"--beta {args.beta:g}; use at most {args.epochs} warm-up epochs.")
        kwargs["kl_warmup_epochs"] = args.kl_warmup
    try:
        need = training_memory(kind, ds.image_shape, args.latent_dim, min(args.batch_size or 128, len(ds)))
        short = memory_shortfall(need)
        if short:
            c, h, w = ds.image_shape
            raise UserError(f"--latent-dim {args.latent_dim}: training a {args.model} with it on {c}×{h}×{w} images "
                            f"would need {short}; choose a smaller --latent-dim or --batch-size.")
        trainer = make_trainer(kind, torch.from_numpy(ds.images), args.latent_dim, device=device, **kwargs)
    except ValueError as exc:
        raise UserError(f"cannot train a {args.model} on '{ds.source or ds.name}': {exc}.") from None
    command = "latent-explorer " + shlex.join(args.argv)
    t0 = time.perf_counter()
    bar = None
    try:
        for m in trainer.run(args.epochs):
            if bar is None:
                bar = tqdm(total=m["total_steps"], unit="step", desc=f"train {args.model}", file=sys.stderr)
            bar.update(1)
            bar.set_postfix({k: f"{v:.4g}" for k, v in m.items()
                             if k not in ("step", "epoch", "total_steps") and isinstance(v, float)},
                            refresh=False)
            bar.set_description(f"train {args.model} epoch {m['epoch'] + 1}/{args.epochs}")
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(f"training interrupted; nothing written to {args.out}", file=sys.stderr)
        return 130
    except TrainingDiverged as exc:
        raise UserError(f"{exc}; nothing was written to '{args.out}' (a file there is kept as it was) — "
                        "try a smaller --beta, another --seed or fewer --epochs.") from None
    except TrainingOutOfMemory as exc:  # the batch size is the user's: one sentence, never a smaller batch
        raise UserError(f"{exc}; nothing was written to '{args.out}'.") from None
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0
    if not all(bool(torch.isfinite(t).all()) for t in trainer.model.state_dict().values() if t.is_floating_point()):
        raise UserError(f"training ended with NaN or infinite weights; nothing was written to '{args.out}'.")
    save_checkpoint(args.out, trainer.model, dataset=ds.name, seed=args.seed, history=trainer.history,
                    command=command, extra={"wall_time_s": wall, "n_train": len(ds), "split": ds.split or "all",
                                            "device": str(device),
                                            **({"kl_warmup_epochs": args.kl_warmup,
                                                "kl_warmup_steps": trainer.kl_warmup_steps} if args.kl_warmup else {})})
    finals = {k: v[-1] for k, v in trainer.history.items() if v}
    print(f"saved {args.out} after {wall:.1f} s on {device}; final " +
          ", ".join(f"{k} {v:.4g}" for k, v in finals.items()))
    return 0


def cmd_info(args) -> int:
    """Print what a checkpoint / adapter / TorchScript file or a session file (.lxs) holds."""

    if args.checkpoint.suffix.lower() == ".lxs":
        from explorer.cli.session import print_session_info

        return print_session_info(args.checkpoint, args.json)
    # A checkpoint is first checked without torch (models.checkpoint_reader: the same checks as the
    # loader — NaN/inf, meta, missing or mis-shaped weights, configs, sizes; issue 14); anything that
    # reader cannot vouch for, every refusal included, goes to the full loader, which words it.
    from models.checkpoint_reader import describe_checkpoint

    info = describe_checkpoint(args.checkpoint)
    if info is None:
        from models.loading import describe  # imports torch (about 2 s)

        info = describe(args.checkpoint)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    if info.get("source") != "checkpoint":  # an adapter or TorchScript file: only what applies to it
        info = {k: v for k, v in info.items() if v is not None and v != {} and v != []}
    width = max(len(k) for k in info)
    for k, v in info.items():
        if isinstance(v, dict):
            v = ", ".join(f"{a}={b:.4g}" if isinstance(b, float) else f"{a}={b}" for a, b in v.items())
            if k == "history_final" and v:
                units = _HISTORY_UNITS.get(info.get("kind"), "mean of the last epoch")
                if "beta" in info[k]:
                    units += "; beta: the KL weight of the KL warm-up"
                v += f" ({units})"
        print(f"{k:<{width}}  {v}")
    return 0


#: What the numbers of ``history_final`` are, by model kind (models.train's per-epoch means).
_HISTORY_UNITS = {"vae": "nats per image, mean of the last epoch",
                  "gan": "losses in nats per image, d_real/d_fake mean discriminator probabilities; last epoch",
                  "ali": "losses in nats per image, d_real/d_fake mean discriminator probabilities; last epoch",
                  "classifier": "cross-entropy in nats per image, accuracy in [0, 1]; last epoch"}


def cmd_evaluate(args) -> int:
    """Evaluate each model on the dataset; print a table and write the JSON record."""
    from explorer.cli.args import check_umap_backend_args, device_from_args
    from explorer.core.evaluate import evaluate_models
    from explorer.data import load_dataset

    device = device_from_args(args)  # a missing device: DeviceError, one sentence (a UserError), at once
    check_umap_backend_args(args)

    ds = load_dataset(args.data, split=args.split, limit=args.limit, seed=args.seed, resize=args.resize)
    for note in ds.notes:
        print(note, file=sys.stderr)
    if args.k is not None and "clustering" in args.metrics and args.k > len(ds):
        raise UserError(f"--k {args.k}: the dataset has {len(ds):,} images, so k must be from 1 to {len(ds):,}.")
    from explorer.cli.args import check_precisions, inversion_from_args

    check_precisions(args.precision)
    inversion = inversion_from_args(args)
    sq_settings = None
    if "sample-quality" in args.metrics:
        from explorer.core.sample_quality import SampleQualitySettings

        sq_settings = SampleQualitySettings(extractor=args.extractor, n_samples=args.n_samples,
                                            real_split=args.real_split, data=args.data, seed=args.seed,
                                            cache=not getattr(args, "no_cache", False))
    likelihood = _likelihood_settings(args) if "likelihood" in args.metrics else None
    if device.type != "cpu":  # the records name the device in any case
        print(f"computing on {device}", file=sys.stderr)
    dis_settings = None
    if "disentanglement" in args.metrics:
        from explorer.core.disentanglement import DisentanglementSettings

        if ds.factors is None:
            raise UserError(f"--metrics disentanglement needs data with ground-truth factors; '{args.data}' has "
                            "none (use --data dsprites or an .npz with 'factors').")
        dis_settings = DisentanglementSettings.named(args.settings)
    result = evaluate_models(args.checkpoints, ds, metrics=args.metrics, k=args.k, space=args.space,
                             projection=args.projection, umap_backend=args.umap_backend, seed=args.seed,
                             on_note=lambda s: print(s, file=sys.stderr),
                             precisions=args.precision, n_images=args.n_images, sample=args.sample,
                             inversion=inversion, gan_codes=args.gan_codes, cache=not args.no_cache,
                             sample_quality=sq_settings, likelihood=likelihood, device=device,
                             **({"disentanglement": dis_settings} if dis_settings is not None else {}))
    for rec in result["models"]:
        c = rec.get("clustering")
        if c:
            fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
            print(f"{rec['checkpoint']}: k-means k={c['k']} on the {c['space']} space ({c['n_images']:,} points, "
                  f"{rec['codes']} codes): "
                  f"homogeneity {fmt(c['homogeneity'])}, completeness {fmt(c['completeness'])}, "
                  f"V-measure {fmt(c['v_measure'])}, ARI {fmt(c['ari'])}, NMI {fmt(c['nmi'])}, "
                  f"silhouette {fmt(c['silhouette'])}")
        dis = rec.get("disentanglement")
        if dis:
            fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
            print(f"{rec['checkpoint']}: disentanglement ({dis['settings']['name']} settings, "
                  f"{dis['n_train']:,} train / {dis['n_test']:,} test points, {dis['settings']['representation']}, "
                  f"scikit-learn {dis['sklearn_version']}): β-VAE {fmt(dis['beta_vae'])}, "
                  f"FactorVAE {fmt(dis['factor_vae'])}, MIG {fmt(dis['mig'])}, SAP {fmt(dis['sap'])}, "
                  f"DCI D/C/I {fmt(dis['dci']['disentanglement'])}/{fmt(dis['dci']['completeness'])}/"
                  f"{fmt(dis['dci']['informativeness'])}, modularity {fmt(dis['modularity'])}, "
                  f"explicitness {fmt(dis['explicitness'])}")
        for r in rec.get("reconstruction_by_precision", []):
            from explorer.cli.reconstruction import format_reconstruction

            print(f"{rec['checkpoint']}: {format_reconstruction(r)}")
        if rec.get("sample_quality"):
            from explorer.cli.sample_quality import format_sample_quality

            print(format_sample_quality(rec["checkpoint"], rec["sample_quality"],
                                        rec.get("sample_quality_reconstructions")))
        if rec.get("likelihood"):
            print(f"{rec['checkpoint']}: {format_likelihood(rec['likelihood'])}")
    if args.json:
        from explorer.core.export import write_json

        write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


def cmd_bench(args) -> int:
    """Run the benchmark sections, print each figure, write them as one JSON object."""
    from explorer.bench import run_bench
    from explorer.cli.args import device_from_args

    results = run_bench(only=args.only, out=args.json, device=device_from_args(args))
    return 0 if results else 1


def cmd_open(args) -> int:
    """Open the window (the bundled demo when no checkpoint is given)."""
    from explorer.gui.app import run_app

    return run_app(checkpoints=list(args.checkpoints), data=args.data, split=args.split,
                   limit=args.limit, seed=args.seed)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``latent-explorer``; returns the process exit status."""
    setup_logging()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv_parsed = ["open", *argv]  # the GUI is the default: `latent-explorer x.pt --data digits`
    else:
        argv_parsed = argv
    args = parser.parse_args(argv_parsed)  # a usage error: two lines on stderr (args.Parser), SystemExit(2)
    args.argv = argv
    handlers = {"open": cmd_open, "train": cmd_train, "info": cmd_info, "evaluate": cmd_evaluate,
                "render": lambda a: a.render_handler(a), "session": lambda a: a.handler(a), "bench": cmd_bench}
    handlers["compare"] = lambda a: a.handler(a)
    try:
        for option in ("out", "json"):  # where results go is checked before any work starts
            if option == "out" and args.command == "compare":
                continue  # its --out is a report folder, checked by the command itself before any work
            if isinstance(getattr(args, option, None), Path):
                check_output_path(getattr(args, option), f"--{option}")
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print(f"latent-explorer {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `latent-explorer info x.pt --json | head`: the reader left; nothing to say
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python exits
        return 0
    except Exception as exc:  # noqa: BLE001 - one sentence for the user, the traceback to the log file
        from models.base import ModelFileError

        log.exception("latent-explorer %s failed", args.command)
        if isinstance(exc, (UserError, ModelFileError)):
            print(f"latent-explorer: error: {exc}", file=sys.stderr)
            return 2
        print(f"latent-explorer: error: {type(exc).__name__}: {exc} (details in the log file)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
