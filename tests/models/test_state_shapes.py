"""models.state_shapes agrees with the real modules' state dicts, and never vouches for a config they refuse."""

from __future__ import annotations

import inspect
import itertools
import random

import pytest
import torch

from models.ali import ALI
from models.checkpoint import EXTRACTOR_CLASSES, MODEL_CLASSES
from models.classifier import LeNetClassifier
from models.dcgan import DCGAN
from models.layers import count_parameters
from models.loading import _networks
from models.state_shapes import KINDS, ConfigNotSupported, expected_model
from models.vae import VAE

CLASSES = {**MODEL_CLASSES, **EXTRACTOR_CLASSES}

CONFIGS = [
    ("vae", {"latent_dim": 4}),
    ("vae", {"latent_dim": 16, "image_shape": [1, 28, 28], "likelihood": "bernoulli", "beta": 1.0, "sigma": 0.1,
             "channels": [32, 64], "hidden": 128, "objective": "beta_vae"}),
    ("vae", {"latent_dim": 10, "image_shape": [1, 64, 64], "beta": 4.0, "objective": "beta_tcvae"}),
    ("vae", {"latent_dim": 2, "image_shape": [1, 8, 8], "hidden": 16, "channels": [4]}),
    ("vae", {"latent_dim": 3, "image_shape": [3, 32, 32], "likelihood": "gaussian", "sigma": 0.05, "hidden": 7,
             "channels": [5, 6, 7]}),
    ("vae", {"latent_dim": 1, "image_shape": (2, 12, 12), "channels": (3, 9)}),
    ("vae", {"latent_dim": 5, "image_shape": [1, 20, 20], "beta": 0}),
    ("gan", {"latent_dim": 32, "image_shape": [1, 28, 28], "g_width": 32, "d_width": 32}),
    ("gan", {"latent_dim": 4}),
    ("gan", {"latent_dim": 7, "image_shape": [3, 64, 64], "g_width": 8, "d_width": 4}),
    ("gan", {"latent_dim": 2, "image_shape": [1, 8, 8], "g_width": 3, "d_width": 5}),
    ("gan", {"latent_dim": 6, "image_shape": [2, 16, 16], "g_width": 1, "d_width": 1}),
    ("ali", {"latent_dim": 64, "image_shape": [1, 28, 28], "g_width": 32, "e_width": 32, "d_width": 32,
             "d_features": 128, "dropout": 0.2}),
    ("ali", {"latent_dim": 4, "dropout": 0.0}),
    ("ali", {"latent_dim": 4, "dropout": 0}),
    ("ali", {"latent_dim": 9, "image_shape": [3, 64, 64], "g_width": 4, "e_width": 6, "d_width": 8,
             "d_features": 16, "dropout": 1.0}),
    ("ali", {"latent_dim": 2, "image_shape": [1, 8, 8], "g_width": 2, "e_width": 3, "d_width": 4, "d_features": 5}),
    ("classifier", {}),
    ("classifier", {"image_shape": [1, 28, 28], "n_classes": 10, "num_features": 128, "widths": [16, 32],
                    "dropout": 0.3, "class_names": [f"c{i}" for i in range(10)]}),
    ("classifier", {"image_shape": [3, 32, 20], "n_classes": 2, "num_features": 5, "widths": (3, 4), "dropout": 0}),
    ("classifier", {"image_shape": [1, 7, 9], "n_classes": 3, "class_names": ["a", "b", "c"]}),
    ("classifier", {"image_shape": [2, 4, 4], "n_classes": 4, "num_features": 1, "widths": [1, 1], "dropout": 1}),
]


def _build(kind: str, config: dict) -> torch.nn.Module:
    """The real module, built on the meta device (shapes only, nothing allocated)."""
    with torch.device("meta"):
        return CLASSES[kind](**config)


def _assert_agrees(kind: str, config: dict, model: torch.nn.Module) -> None:
    want = expected_model(kind, config)
    state = model.state_dict()
    params = {name for name, _ in model.named_parameters()}
    assert list(want.state) == list(state)  # same keys, same order
    for key, t in state.items():
        entry = want.state[key]
        assert entry.shape == tuple(t.shape), key
        assert entry.floating == t.is_floating_point(), key
        assert entry.parameter == (key in params), key
        assert entry.nbytes == t.numel() * t.element_size(), key
    assert want.parameters == count_parameters(model)
    assert want.networks == _networks(model) and list(want.networks) == list(_networks(model))
    assert want.nbytes == sum(t.numel() * t.element_size() for t in state.values())
    assert want.kind == model.kind and want.image_shape == tuple(model.image_shape)
    assert want.latent_dim == getattr(model, "latent_dim", None)
    assert want.has_encoder == getattr(model, "has_encoder", None)


def test_the_kinds_are_those_a_checkpoint_can_hold():
    assert set(KINDS) == set(CLASSES)


@pytest.mark.parametrize(("kind", "config"), CONFIGS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CONFIGS)])
def test_expected_state_dict_is_the_modules(kind, config):
    _assert_agrees(kind, config, _build(kind, config))


def test_real_weights_have_the_same_shapes_as_on_meta():
    """The meta build above is what the loader checks against; a real build gives the same state dict."""
    for kind, config in [("vae", {"latent_dim": 2, "image_shape": [1, 8, 8], "channels": [4], "hidden": 8}),
                         ("ali", {"latent_dim": 2, "image_shape": [1, 8, 8], "g_width": 2, "e_width": 2,
                                  "d_width": 2, "d_features": 4})]:
        with torch.random.fork_rng(devices=[]):
            _assert_agrees(kind, config, CLASSES[kind](**config))


REFUSED_BY_THE_CONSTRUCTOR = [
    ("vae", {}),  # no latent_dim
    ("vae", {"latent_dim": 0}),
    ("vae", {"latent_dim": 4, "image_shape": [1, 28, 27]}),
    ("vae", {"latent_dim": 4, "image_shape": [1, 7, 7]}),
    ("vae", {"latent_dim": 4, "image_shape": [1, 28]}),
    ("vae", {"latent_dim": 4, "channels": [8]}),
    ("vae", {"latent_dim": 4, "likelihood": "poisson"}),
    ("vae", {"latent_dim": 4, "objective": "elbo"}),
    ("vae", {"latent_dim": 4, "sigma": 0.0}),
    ("vae", {"latent_dim": 4, "beta": -1.0}),
    ("vae", {"latent_dim": 4, "dropout": 0.1}),  # a key VAE does not take
    ("gan", {"latent_dim": 4, "e_width": 8}),
    ("ali", {"latent_dim": 4, "dropout": 1.5}),
    ("ali", {"latent_dim": 4, "dropout": -0.1}),
    ("classifier", {"n_classes": 1}),
    ("classifier", {"image_shape": [1, 3, 28]}),
    ("classifier", {"widths": [4]}),
    ("classifier", {"n_classes": 3, "class_names": ["a", "b"]}),
    ("classifier", {"latent_dim": 4}),
]


@pytest.mark.parametrize(("kind", "config"), REFUSED_BY_THE_CONSTRUCTOR,
                         ids=[f"{k}-{i}" for i, (k, _) in enumerate(REFUSED_BY_THE_CONSTRUCTOR)])
def test_configs_the_constructor_refuses_are_not_vouched_for(kind, config):
    with pytest.raises((TypeError, ValueError)):
        _build(kind, config)
    with pytest.raises(ConfigNotSupported):
        expected_model(kind, config)


@pytest.mark.parametrize(("kind", "config"), [
    ("vae", {"latent_dim": True}),
    ("vae", {"latent_dim": 4.0}),
    ("vae", {"latent_dim": 4, "hidden": 16.0}),
    ("vae", {"latent_dim": 4, "beta": float("nan")}),
    ("vae", {"latent_dim": 4, "channels": []}),
    ("gan", {"latent_dim": 4, "g_width": "8"}),
    ("gan", {"latent_dim": 2**40}),
    ("ali", {"latent_dim": 4, "dropout": True}),
    ("classifier", {"class_names": "abcdefghij"}),
    ("unknown", {"latent_dim": 4}),
], ids=lambda v: str(v)[:40])
def test_unusual_values_are_left_to_the_torch_loader(kind, config):
    """Values the constructors may convert (float widths, bools, strings) are not vouched for: torch decides."""
    with pytest.raises(ConfigNotSupported):
        expected_model(kind, config)


def test_random_configs_agree_or_are_not_vouched_for():
    """Configs drawn from valid and invalid values: whenever one is vouched for, the module builds and agrees."""
    rng = random.Random(0)
    values = {
        "latent_dim": [1, 3, 0, -2, True, 2.0, None],
        "image_shape": [[1, 8, 8], [3, 16, 16], [1, 12, 12], [1, 10, 10], [1, 9, 9], [2, 8, 6], [1, 0, 0], (1, 8, 8),
                        [1.0, 8, 8], [1, 8]],
        "channels": [None, [2], [2, 3], [0, 2], [2.5], []],
        "hidden": [1, 4, 0, 3.0],
        "likelihood": ["bernoulli", "gaussian", "x"],
        "beta": [0, 0.5, 4, -1, float("inf")],
        "sigma": [0.1, 1, 0, -0.1],
        "objective": ["beta_vae", "beta_tcvae", 3],
        "g_width": [1, 2, 0, 2.0],
        "d_width": [1, 3, -1],
        "e_width": [2, 0],
        "d_features": [1, 5, 0],
        "dropout": [0, 0.2, 1, 1.2, -0.5, False],
        "n_classes": [2, 5, 1, 0],
        "num_features": [1, 6, 0],
        "widths": [[1, 2], [3, 3], [2], [0, 2]],
        "class_names": [None, ["a", "b"], ["a"] * 5, "ab"],
    }
    vouched = 0
    for _ in range(400):
        kind = rng.choice(KINDS)
        own = [k for k in inspect.signature(CLASSES[kind]).parameters if k in values]
        keys = [k for k in own if rng.random() < 0.6] + (["dropout"] if rng.random() < 0.05 else [])
        config = {k: rng.choice(values[k]) for k in keys}
        if kind != "classifier" and rng.random() < 0.9:
            config.setdefault("latent_dim", rng.choice([1, 2, 5]))
        if "image_shape" not in config:
            config["image_shape"] = rng.choice([[1, 8, 8], [2, 16, 16]])
        try:
            expected_model(kind, config)
        except ConfigNotSupported:
            continue
        vouched += 1
        _assert_agrees(kind, config, _build(kind, config))
    assert vouched >= 20  # the draw exercised the accepted side too


def test_layers_are_counted_like_the_modules_for_every_side():
    """Every halvable side from 8 to 64: the strided stages and their base side match the real layers."""
    for side, kind in itertools.product(range(8, 65, 2), ("vae", "gan", "ali")):
        config = {"latent_dim": 2, "image_shape": [1, side, side]}
        if kind == "vae":
            config["hidden"] = 4
        else:
            config.update(g_width=1, d_width=1, **({"e_width": 1, "d_features": 2} if kind == "ali" else {}))
        try:
            model = _build(kind, config)
        except ValueError:
            with pytest.raises(ConfigNotSupported):
                expected_model(kind, config)
            continue
        _assert_agrees(kind, config, model)


def test_classes_used_here_are_the_checkpoint_classes():
    assert CLASSES == {"vae": VAE, "gan": DCGAN, "ali": ALI, "classifier": LeNetClassifier}
