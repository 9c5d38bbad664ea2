"""What the experiments share: their budgets, Fashion-MNIST splits, and small models trained alike."""

import dataclasses
import os

import keras
import numpy as np

from keras_vae.data import binarize_static, load_tfds_images, make_dataset
from keras_vae.likelihoods import get_likelihood
from keras_vae.models.builder import MODEL_KINDS
from keras_vae.networks.mlp import MLPDecoder, MLPEncoder


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much data, network and training every model of an experiment gets (the same for all).

    Args:
        num_train: int. Training images (the first ones of Fashion-MNIST's train split).
        num_test: int. Test images (the first ones of the test split).
        epochs: int. Passes over the training images.
        batch_size: int.
        hidden_units: tuple of int. The MLP encoder's hidden widths (the decoder's, reversed).
        jit_compile: bool. XLA pays off over hundreds of steps, not over a few.
        run_eagerly: bool. Tracing the step costs seconds, which only pays off over many steps.
        learning_rate: float. Adam's.
        estimator_images: int. Test images of the log p(x) estimators (experiment 1).
        max_prior_samples: int. The naive estimator's largest K (experiment 1).
        gap_images: int. Test images of the ELBO gap histograms (experiment 5).
        gap_samples: int. K of the IS-K estimate of log p(x) there (experiment 5).
        decoder_scales: tuple of float. The fixed sigmas of experiment 2.
        latent_sizes: tuple of int. The latent sizes of experiment 3.
    """

    num_train: int = 5000
    num_test: int = 1000
    epochs: int = 3
    batch_size: int = 100
    hidden_units: tuple = (256, 128)
    jit_compile: bool = False
    run_eagerly: bool = False
    learning_rate: float = 1e-3
    estimator_images: int = 3
    max_prior_samples: int = 100_000
    gap_images: int = 30
    gap_samples: int = 5000
    decoder_scales: tuple = (0.03, 0.1, 0.3, 1.0)
    latent_sizes: tuple = (2, 5, 10, 20, 50)


#: The full run's budget (the committed notebook's outputs: 15 models of 150 Adam steps, all six
#: experiments in at most ~15 minutes on 2 CPU cores shared with other jobs).
FULL = Budget()
#: The test suite's budget: tiny networks and data, every code path, no claims about quality.
FAST = Budget(
    num_train=128,
    num_test=100,
    epochs=1,
    batch_size=64,
    hidden_units=(16,),
    jit_compile=False,
    run_eagerly=True,
    learning_rate=3e-3,
    estimator_images=2,
    max_prior_samples=1000,
    gap_images=10,
    gap_samples=100,
    decoder_scales=(0.1, 1.0),
    latent_sizes=(2, 10),
)


def budget_from_environment():
    """Returns `FAST` when the environment variable KERAS_VAE_FAST is "1", else `FULL`."""
    return FAST if os.environ.get("KERAS_VAE_FAST") == "1" else FULL


def load_fashion_mnist(budget, data_dir=None):
    """Returns dict(train, train_labels, test, test_labels, test_binary) of Fashion-MNIST, as the budget says.

    Images are float32 (N, 28, 28, 1) in [0, 1]; `test_binary` is one static binarization
    (seed 1) of the test images, what a Bernoulli model is evaluated on.

    Args:
        budget: `Budget`.
        data_dir: str or None. TFDS data dir (None: TFDS' default).
    """
    train, train_labels = load_tfds_images("fashion_mnist", f"train[:{budget.num_train}]", data_dir=data_dir)
    test, test_labels = load_tfds_images("fashion_mnist", f"test[:{budget.num_test}]", data_dir=data_dir)
    return {
        "train": train,
        "train_labels": train_labels,
        "test": test,
        "test_labels": test_labels,
        "test_binary": binarize_static(test, seed=1),
    }


def build(kind, data_shape, latent_dim, budget, likelihood="bernoulli", seed=0, **options):
    """Returns a built model of a registered kind with the budget's MLP networks.

    The same networks for every kind (`MODEL_KINDS[kind].from_parts`), so that experiments
    comparing kinds or options compare like with like.
    """
    likelihood = get_likelihood(likelihood)
    data_shape = tuple(int(d) for d in data_shape)
    output_shape = data_shape[:-1] + (likelihood.parameter_channels(data_shape[-1]),)
    encoder = MLPEncoder(latent_dim=latent_dim, hidden_units=budget.hidden_units, name="encoder")
    decoder = MLPDecoder(output_shape=output_shape, hidden_units=budget.hidden_units[::-1], name="decoder")
    model = MODEL_KINDS[kind].from_parts(encoder, decoder, likelihood=likelihood, seed=seed, **options)
    model.build((None,) + data_shape)
    return model


def train(kind, images, latent_dim, budget, likelihood="bernoulli", binarize="dynamic", seed=0, **options):
    """Returns a model of `kind` (see `build`) fitted on `images` for `budget.epochs` with Adam.

    Args:
        kind: str. A key of `keras_vae.models.builder.MODEL_KINDS` ("vae", "ae", "dae", ...).
        images: float32 array (N, H, W, C) in [0, 1].
        latent_dim: int.
        budget: `Budget`.
        likelihood: str or Likelihood, default "bernoulli".
        binarize: str, default "dynamic" ("none" for continuous likelihoods).
        seed: int, default 0. Seeds the weights, the noise and the data order.
        **options: the kind's own options (beta, posterior, noise_std, ...).
    """
    keras.utils.set_random_seed(seed)
    model = build(kind, images.shape[1:], latent_dim, budget, likelihood=likelihood, seed=seed, **options)
    model.compile(optimizer=keras.optimizers.Adam(budget.learning_rate), jit_compile=budget.jit_compile, run_eagerly=budget.run_eagerly)
    data = make_dataset(images, batch_size=budget.batch_size, binarize=binarize, seed=seed)
    model.fit(data, epochs=budget.epochs, verbose=0)
    return model


def in_batches(function, images, batch_size=500):
    """Returns `function(batch)` over `images` in batches, concatenated as NumPy (one or a tuple of arrays)."""
    parts = [function(images[start : start + batch_size]) for start in range(0, len(images), batch_size)]
    if isinstance(parts[0], (tuple, list)):
        return tuple(np.concatenate([np.asarray(p[i]) for p in parts]) for i in range(len(parts[0])))
    return np.concatenate([np.asarray(p) for p in parts])


def _recipe(likelihood):
    """A likelihood's name and configuration (without its layer name), to recognise the same recipe."""
    if isinstance(likelihood, str):
        likelihood = get_likelihood(likelihood)
    config = {k: v for k, v in likelihood.get_config().items() if k not in ("name", "dtype", "trainable")}
    return type(likelihood).__name__, tuple(sorted((k, repr(v)) for k, v in config.items()))


class TrainedModels:
    """Models trained once and shared by the experiments of one session (keyed by their recipe).

    Example:
    >>> models = TrainedModels(FAST)
    >>> models.get(("answer",), lambda: 42), models.get(("answer",), lambda: 0)
    (42, 42)
    """

    def __init__(self, budget):
        self.budget = budget
        self._models = {}

    def get(self, key, make):
        """Returns the model stored under `key`, made by `make()` the first time."""
        if key not in self._models:
            self._models[key] = make()
        return self._models[key]

    def train(self, kind, images, latent_dim, likelihood="bernoulli", binarize="dynamic", seed=0, **options):
        """`train(...)` with this session's budget, once per recipe (the images are the session's)."""
        key = (kind, latent_dim, _recipe(likelihood), binarize, seed, tuple(sorted((k, repr(v)) for k, v in options.items())))
        return self.get(
            key, lambda: train(kind, images, latent_dim, self.budget, likelihood, binarize=binarize, seed=seed, **options)
        )
