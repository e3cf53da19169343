"""Feature extractors of the sample-quality metrics: the bundled classifier, adapters, Inception-v3 TorchScript."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np

from explorer.core.jobs import JobContext
from explorer.core.sample_quality.metrics import SampleQualityError

#: ``--extractor`` name of the bundled Fashion-MNIST classifier.
BUNDLED = "classifier"
#: Side Inception-v3 takes, and how our images are brought to it.
INCEPTION_SIZE = 299
INCEPTION_RESIZE = "PIL bicubic"
INCEPTION_SUFFIXES = (".ts", ".torchscript", ".pt", ".pth", ".pkl")


def bundled_classifier_path() -> Path:
    """``resources/checkpoints/lenet_fashion.pt``: the LeNet-style Fashion-MNIST classifier the project ships."""
    import resources

    return resources.path("checkpoints", "lenet_fashion.pt")


def eta_text(elapsed_s: float, done: int, total: int) -> str:
    """``", about 3 min left"`` from the rate so far (empty before the first item is done)."""
    if done <= 0 or done >= total:
        return ""
    left = elapsed_s / done * (total - done)
    return f", about {left:.0f} s left" if left < 120 else f", about {left / 60:.0f} min left"


class Extractor:
    """A named feature network: images → feature rows and, when it has them, class logits.

    Attributes
    ----------
    name : str
        How every number names it, e.g. ``"lenet_fashion.pt (LeNet classifier, 128-d penultimate layer)"``.
    image_shape : tuple of int or None
        ``(C, H, W)`` it takes; None when it resizes any image itself (Inception-v3).
    num_features : int
        Width F of the feature rows.
    has_logits : bool
        Whether `run` gives logits (the Inception Score needs them).
    preprocessing : str
        What is done to the images before the network (one sentence; the resize filter for Inception).
    """

    name: str = ""
    image_shape: tuple[int, int, int] | None = None
    num_features: int = 0
    has_logits: bool = False
    preprocessing: str = "none: float32 images in [0, 1] as the model makes them"

    def _batch(self, x: np.ndarray):
        raise NotImplementedError

    def place(self, device):
        """Compute features on ``device`` where the network allows; return the device it computes on.

        The base (a user's feature adapter) stays on the CPU: its own code decides where its
        tensors live. Features come back as CPU float64 arrays in every case.
        """
        import torch

        return torch.device("cpu")

    def check_images(self, image_shape, what: str = "the model's images") -> None:
        """Raise `SampleQualityError` (one sentence) if images of ``image_shape`` do not fit this extractor."""
        if self.image_shape is not None and tuple(image_shape) != tuple(self.image_shape):
            c, h, w = self.image_shape
            raise SampleQualityError(
                f"feature extractor {self.name} takes {c}×{h}×{w} images but {what} are "
                f"{'×'.join(map(str, image_shape))}; use an extractor trained for that image size "
                "(latent-explorer train classifier) or Inception-v3.")

    def run(self, images, batch_size: int = 500, ctx: JobContext | None = None,
            what: str = "images") -> tuple[np.ndarray, np.ndarray | None]:
        """Feature rows (and logits) of ``images``, in batches, with progress and cancel.

        Parameters
        ----------
        images : numpy.ndarray, shape (N, C, H, W)
            float32 in [0, 1].
        batch_size : int
        ctx : JobContext, optional
        what : str
            Named in progress messages.

        Returns
        -------
        features : numpy.ndarray, shape (N, F), float64
        logits : numpy.ndarray, shape (N, K), float64, or None without logits

        Raises
        ------
        SampleQualityError
            Images of a shape the extractor does not take.
        models.base.ModelFileError
            The user's network broke its contract.
        """
        import torch

        images = np.asarray(images)
        self.check_images(images.shape[1:], what)
        from explorer.core.batching import run_batched

        parts: dict[int, tuple] = {}  # batch start → (features, logits); a batch redone after an OOM replaces its own
        n = images.shape[0]
        t0 = time.perf_counter()

        def step(start: int, stop: int) -> None:
            f, lg = self._batch(np.ascontiguousarray(images[start:stop], np.float32))
            parts[start] = (np.asarray(f, np.float64), None if lg is None else np.asarray(lg, np.float64))

        def done(stop: int) -> None:
            if ctx is not None:
                ctx.progress(stop / max(n, 1), f"features of {what}: {stop:,}/{n:,} ({self.short_name})"
                             + eta_text(time.perf_counter() - t0, stop, n))

        if ctx is not None:
            ctx.progress(0.0, f"features of {what}: 0/{n:,} ({self.short_name})")
        with torch.no_grad():
            run_batched(n, batch_size, step, self.computes_on(), "features", done, memo=(self.name, images.shape[1:]))
        if ctx is not None:
            ctx.progress(1.0, f"features of {what}: {n:,}/{n:,}")
        ordered = [parts[k] for k in sorted(parts)]
        f = np.concatenate([p[0] for p in ordered]) if ordered else np.zeros((0, self.num_features))
        logits = [p[1] for p in ordered if p[1] is not None]
        return f, (np.concatenate(logits) if self.has_logits and logits else None)

    def computes_on(self):
        """The device the network computes on (the CPU unless `place` moved it)."""
        import torch

        return getattr(self, "_device", None) or torch.device("cpu")

    @property
    def short_name(self) -> str:
        return self.name.split(" (")[0]


class ClassifierExtractor(Extractor):
    """A `models.classifier.LeNetClassifier` checkpoint: penultimate-layer features, logits for IS.

    Parameters
    ----------
    model : LeNetClassifier
    path : pathlib.Path
        The checkpoint (named in ``name``).
    test_accuracy : float, optional
        From the checkpoint's record; named in ``name``.
    """

    def __init__(self, model, path: Path, test_accuracy: float | None = None, dataset: str | None = None):
        self.model = model
        self.path = Path(path)
        self.image_shape = tuple(model.image_shape)
        self.num_features = int(model.num_features)
        self.has_logits = True
        acc = f", {100 * test_accuracy:.1f} % test accuracy" if test_accuracy is not None else ""
        on = f" on {dataset}" if dataset else ""
        self.name = (f"{self.path.name} (LeNet classifier{on}{acc}; {self.num_features}-d penultimate layer, "
                     f"{model.n_classes}-class logits)")
        self.test_accuracy = test_accuracy

    def place(self, device):
        """Move the classifier to ``device`` (its methods move their inputs there)."""
        from explorer.core.device import place_model

        self._device = place_model(self.model, device)
        return self._device

    def _batch(self, x):
        f, lg = self.model.features_and_logits(x)
        return f.cpu().numpy(), lg.cpu().numpy()  # from the classifier's device


class AdapterExtractor(Extractor):
    """A user's feature network through `models.adapter.load_feature_adapter` (``features``, optional ``logits``)."""

    def __init__(self, net, path: Path):
        import torch

        self.net, self.path = net, Path(path)
        self.image_shape = tuple(net.image_shape)
        self.has_logits = bool(net.has_logits)
        self.num_features = int(net.features(torch.zeros(1, *self.image_shape)).shape[1])
        self.name = f"{self.path.name} (feature adapter, {self.num_features}-d features" + (
            ", logits)" if self.has_logits else ", no logits)")

    def _batch(self, x):
        f = self.net.features(x).cpu().numpy()
        return f, (self.net.logits(x).cpu().numpy() if self.has_logits else None)


class InceptionExtractor(Extractor):
    """Inception-v3 pool3 features from the user's TorchScript file (``inception-2015-12-05``, as StyleGAN2-ADA).

    Images are 8-bit quantised (``round(255 x)``), grey repeated to 3 channels, resized
    to 299×299 with PIL's bicubic filter (clean-fid's choice; the filter changes FID) and
    handed to the module as a uint8 tensor ``(N, 3, 299, 299)`` with ``return_features=True``
    (or without it if the module takes no such argument). No logits: IS is not offered.
    About 2 images/s on a 2-core CPU.
    """

    preprocessing = ("8-bit quantised, grey repeated to 3 channels, resized to 299×299 with the "
                     f"{INCEPTION_RESIZE} filter, passed as uint8")

    def __init__(self, module, path: Path):
        self.module, self.path = module, Path(path)
        self._device = None  # `place`: the module's device (None: the CPU, where it was loaded)
        self._kwargs = {"return_features": True}
        self.image_shape = None
        self.has_logits = False
        probe = np.zeros((2, 1, 8, 8), np.float32)
        try:
            f = self._call(probe)
        except Exception:  # noqa: BLE001 - a module without the keyword: call it plainly
            self._kwargs = {}
            try:
                f = self._call(probe)
            except Exception as e:  # noqa: BLE001 - any failure of the user's code is one sentence
                raise SampleQualityError(
                    f"TorchScript extractor '{self.path}' fails on two 299×299 images ({type(e).__name__}); "
                    "give the Inception-v3 TorchScript file (inception-2015-12-05.pt).") from None
        if f.ndim != 2 or f.shape[0] != 2:
            raise SampleQualityError(
                f"TorchScript extractor '{self.path}' returned shape {tuple(f.shape)} for 2 images, expected "
                "(2, 2048) pool3 features; give the Inception-v3 TorchScript file.")
        self.num_features = int(f.shape[1])
        kind = "Inception-v3 pool3" if self.num_features == 2048 else "TorchScript features"
        self.name = f"{self.path.name} ({kind}, {self.num_features}-d; {self.preprocessing})"

    def place(self, device):
        """Move the TorchScript module to ``device``; the uint8 images follow it there."""
        import torch

        if device is not None:
            self._device = torch.device(device)
            self.module.to(self._device)
        return self._device or torch.device("cpu")

    @staticmethod
    def prepare(x: np.ndarray):
        """Images ``(N, C, H, W)`` in [0, 1] → uint8 tensor ``(N, 3, 299, 299)`` (quantise, grey→RGB, bicubic)."""
        import torch
        from PIL import Image

        q = np.clip(np.rint(np.asarray(x) * 255.0), 0, 255).astype(np.uint8)
        if q.shape[1] == 1:
            q = np.repeat(q, 3, axis=1)
        if q.shape[1] != 3:
            raise SampleQualityError(f"Inception-v3 takes grey or RGB images, got {q.shape[1]} channels.")
        out = np.empty((q.shape[0], 3, INCEPTION_SIZE, INCEPTION_SIZE), np.uint8)
        for i, img in enumerate(q):
            pil = Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0)))
            big = pil.resize((INCEPTION_SIZE, INCEPTION_SIZE), Image.Resampling.BICUBIC)
            out[i] = np.asarray(big).transpose(2, 0, 1)
        return torch.from_numpy(out)

    def _call(self, x):
        import torch

        with torch.no_grad():
            x = self.prepare(x)
            return self.module(x if self._device is None else x.to(self._device), **self._kwargs).detach().cpu().float()

    def _batch(self, x):
        try:
            f = self._call(x)
        except Exception as e:  # noqa: BLE001 - the user's code
            raise SampleQualityError(
                f"TorchScript extractor '{self.path}' raised {type(e).__name__} on a batch; check the file.") from None
        return f.numpy(), None


def load_extractor(spec: str | Path = BUNDLED) -> Extractor:
    """Open the feature extractor ``--extractor`` names: bundled classifier, classifier checkpoint, adapter, Inception.

    ``"classifier"`` → the bundled `bundled_classifier_path`; ``*.py`` → a feature adapter
    (`models.adapter.load_feature_adapter`, **runs the file**); a TorchScript archive
    (``.ts``, ``.torchscript``, or the ``inception-2015-12-05.pt`` file) → `InceptionExtractor`
    (**runs its code**: naming it is the user's opt-in); any other file → a classifier
    checkpoint (`models.checkpoint`, ``weights_only=True``, no code run). Nothing is downloaded.

    Parameters
    ----------
    spec : str or os.PathLike

    Returns
    -------
    Extractor

    Raises
    ------
    SampleQualityError
        One sentence: the file is missing, not a classifier, or a TorchScript that fails.
    models.base.ModelFileError
        One sentence from the checkpoint / adapter loaders.
    """
    from models.adapter import load_feature_adapter
    from models.checkpoint import load_checkpoint
    from models.torchscript import is_torchscript_file

    if str(spec) == BUNDLED:
        path = bundled_classifier_path()
        if not path.is_file():
            raise SampleQualityError(f"the bundled classifier '{path}' is missing; reinstall Latent Explorer "
                                     "or give --extractor PATH.")
    else:
        path = Path(spec)
    if not path.is_file():
        raise SampleQualityError(f"feature extractor '{path}' does not exist; give --extractor classifier, a "
                                 "classifier checkpoint, a feature adapter (.py) or an Inception-v3 TorchScript file.")
    if path.suffix == ".py":
        return AdapterExtractor(load_feature_adapter(path), path)
    if is_torchscript_file(path):
        import torch

        try:
            with warnings.catch_warnings():  # torch ≥ 2.10 flags TorchScript as deprecated; the user chose it
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.load(str(path), map_location="cpu")
        except Exception as e:  # noqa: BLE001 - damaged / newer archive
            raise SampleQualityError(f"TorchScript extractor '{path}' cannot be loaded ({type(e).__name__}); "
                                     "it may be damaged or from a newer PyTorch.") from None
        module.eval()
        return InceptionExtractor(module, path)
    ckpt = load_checkpoint(path)
    if ckpt.kind != "classifier":
        raise SampleQualityError(
            f"checkpoint '{path}' is a {ckpt.kind} model, not a feature extractor; give --extractor classifier, "
            "a classifier checkpoint (latent-explorer train classifier), a feature adapter or Inception-v3.")
    acc = (ckpt.extra or {}).get("test_accuracy")
    prov = path.with_name(path.stem + ".provenance.json")
    if acc is None and prov.is_file():
        try:
            acc = json.loads(prov.read_text()).get("test_accuracy")
        except (OSError, ValueError):
            acc = None
    return ClassifierExtractor(ckpt.model, path, acc, ckpt.dataset)
