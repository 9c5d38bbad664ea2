"""Trains a VAE from settings and writes a run directory.

This is the logic behind `keras-vae train`; the command line only parses
arguments into `TrainSettings` and calls `train`. A run directory holds:

    model.keras          the trained model (loads without custom_objects)
    history.csv          per-epoch metrics from keras.callbacks.CSVLogger
    metrics.json         test ELBO, reconstruction and KL (nats per example) and the settings
    samples.png          images decoded from prior draws
    reconstructions.png  test inputs above their reconstructions
    tensorboard/         TensorBoard logs
"""

import dataclasses
import os
import time

import keras
import numpy as np

from keras_vae import atomic, plotting
from keras_vae.data import (
    BINARIZATIONS,
    DataError,
    binarize_static,
    load_tfds_images,
    load_user_images,
    make_dataset,
    validate_images,
)
from keras_vae.callbacks import BETA_SCHEDULES, make_beta_schedule
from keras_vae.likelihoods import LIKELIHOODS, Gaussian
from keras_vae.models.builder import ARCHITECTURES, build_vae
from keras_vae.models.vae import OBJECTIVES

MODEL_FILE = "model.keras"


@dataclasses.dataclass
class TrainSettings:
    """Settings of one training run; the defaults train the README's default model.

    Args:
        dataset: str, default "fashion_mnist". A TFDS image dataset name; ignored when `data` is set.
        data: str or None, default None. A folder of PNG/JPEG images or a .npy/.npz array.
        data_dir: str or None, default None. TFDS data directory (None: TFDS' default).
        architecture: str, default "mlp". "mlp" or "conv".
        latent_dim: int, default 32.
        likelihood: str, default "bernoulli". "bernoulli" or "gaussian".
        gaussian_scale: float or None, default None. Fixed sigma of a Gaussian likelihood; None learns it.
        binarize: str, default "dynamic". "none", "dynamic" or "static".
        epochs: int, default 30.
        steps_per_epoch: int or None, default None (one pass over the training data).
        batch_size: int, default 128.
        learning_rate: float, default 1e-3. Adam's step size.
        beta: float, default 1.0. KL weight.
        num_samples: int, default 1. Monte Carlo samples of z per input (K of the IWAE bound).
        objective: str, default "elbo". "elbo" or "iwae" (Burda et al. 2016; needs beta 1).
        free_bits: float, default 0.0. Per-dimension KL floor in nats (Kingma et al. 2016).
        beta_schedule: str, default "constant". "constant", "linear" (warm-up from 0 to `beta`
            over `warmup_epochs`) or "cyclical" (Fu et al. 2019: cycles of 2 * `warmup_epochs`).
        warmup_epochs: int, default 10. Length of the beta warm-up.
        validation_fraction: float, default 0.1. Held-out share of a user's own data.
        seed: int, default 0.
        out: str, default "runs/default". The run directory.
        overwrite: bool, default False. Replace a run directory that holds a trained model.
        jit_compile: bool, default True. Compile the train step with XLA.
        verbose: int or str, default "auto". Keras' progress-bar setting.
    """

    dataset: str = "fashion_mnist"
    data: str = None
    data_dir: str = None
    architecture: str = "mlp"
    latent_dim: int = 32
    likelihood: str = "bernoulli"
    gaussian_scale: float = None
    binarize: str = "dynamic"
    epochs: int = 30
    steps_per_epoch: int = None
    batch_size: int = 128
    learning_rate: float = 1e-3
    beta: float = 1.0
    num_samples: int = 1
    objective: str = "elbo"
    free_bits: float = 0.0
    beta_schedule: str = "constant"
    warmup_epochs: int = 10
    validation_fraction: float = 0.1
    seed: int = 0
    out: str = "runs/default"
    overwrite: bool = False
    jit_compile: bool = True
    verbose: object = "auto"

    def check(self):
        """Raises ValueError naming the first invalid setting and its valid values."""
        choices = {
            "architecture": sorted(ARCHITECTURES),
            "likelihood": sorted(LIKELIHOODS),
            "binarize": list(BINARIZATIONS),
            "objective": list(OBJECTIVES),
            "beta_schedule": list(BETA_SCHEDULES),
        }
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ValueError(f"Unknown {name} {getattr(self, name)!r}; choose one of {valid}.")
        for name in ("latent_dim", "epochs", "batch_size", "num_samples", "warmup_epochs"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be a positive integer, got {self.steps_per_epoch!r}.")
        if not (self.learning_rate > 0 and np.isfinite(self.learning_rate)):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}.")
        if not (self.beta >= 0 and np.isfinite(self.beta)):
            raise ValueError(f"beta must be a non-negative number, got {self.beta!r}.")
        if not (self.free_bits >= 0 and np.isfinite(self.free_bits)):
            raise ValueError(f"free_bits must be a non-negative number, got {self.free_bits!r}.")
        if self.objective == "iwae" and (self.beta != 1 or self.beta_schedule != "constant" or self.free_bits > 0):
            raise ValueError(
                "objective 'iwae' optimises the importance-weighted bound, which has no KL weight: use it with "
                "beta 1, beta_schedule 'constant' and free_bits 0."
            )
        if self.gaussian_scale is not None and not self.gaussian_scale > 0:
            raise ValueError(f"gaussian_scale must be positive, got {self.gaussian_scale!r}.")
        if self.binarize != "none" and self.likelihood != "bernoulli":
            raise ValueError(
                f"binarize={self.binarize!r} makes binary data, which needs likelihood 'bernoulli'; "
                "use binarize='none' with a Gaussian likelihood."
            )
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must lie in (0, 1), got {self.validation_fraction!r}.")


def check_run_directory(out, overwrite=False):
    """Refuses a run directory that already holds a trained model, unless `overwrite`."""
    if os.path.exists(os.path.join(out, MODEL_FILE)) and not overwrite:
        raise FileExistsError(
            f"{out} already holds a trained model ({MODEL_FILE}); choose another --out or pass --overwrite."
        )
    if os.path.exists(out) and not os.path.isdir(out):
        raise NotADirectoryError(f"--out {out} exists and is not a directory.")


def load_splits(settings):
    """Returns `((train_images, train_labels), (test_images, test_labels))`, floats in [0, 1]."""
    if settings.data:
        splits = load_user_images(
            settings.data, validation_fraction=settings.validation_fraction, seed=settings.seed
        )
        return splits["train"], splits["test"]
    train = load_tfds_images(settings.dataset, "train", data_dir=settings.data_dir)
    test = load_tfds_images(settings.dataset, "test", data_dir=settings.data_dir)
    return (validate_images(train[0], name="train images"), train[1]), (
        validate_images(test[0], name="test images"),
        test[1],
    )


def held_out_images_for(settings, images):
    """Returns the test images as the model sees them (binarized like the training data)."""
    if settings.binarize == "none":
        return images
    # A fixed draw, so that the test ELBO of a run is one well-defined number.
    return binarize_static(images, seed=settings.seed + 1)


def train(settings):
    """Trains a VAE as `settings` say and writes the run directory; returns its metrics dict.

    Every check that can fail (settings, output directory, data) runs before training.

    Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> root = tempfile.mkdtemp()
    >>> np.save(os.path.join(root, "x.npy"), np.random.default_rng(0).integers(0, 256, (50, 8, 8), np.uint8))
    >>> metrics = train(TrainSettings(data=os.path.join(root, "x.npy"), epochs=1, latent_dim=2,
    ...                               out=os.path.join(root, "run"), verbose=0))
    >>> sorted(os.listdir(os.path.join(root, "run")))[:3]
    ['history.csv', 'metrics.json', 'model.keras']
    """
    settings.check()
    check_run_directory(settings.out, settings.overwrite)
    keras.utils.set_random_seed(settings.seed)
    (train_images, _), (test_images, test_labels) = load_splits(settings)
    likelihood = Gaussian(scale=settings.gaussian_scale) if settings.likelihood == "gaussian" else "bernoulli"
    model = build_vae(
        train_images.shape[1:],
        architecture=settings.architecture,
        latent_dim=settings.latent_dim,
        likelihood=likelihood,
        beta=settings.beta,
        num_samples=settings.num_samples,
        seed=settings.seed,
        objective=settings.objective,
        free_bits=settings.free_bits,
    )
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), jit_compile=settings.jit_compile)

    train_data = make_dataset(
        train_images,
        batch_size=settings.batch_size,
        shuffle=True,
        binarize=settings.binarize,
        seed=settings.seed,
        repeat=settings.steps_per_epoch is not None,
    )
    model_test_images = held_out_images_for(settings, test_images)
    test_data = make_dataset(model_test_images, batch_size=settings.batch_size, shuffle=False)

    os.makedirs(settings.out, exist_ok=True)
    beta_schedule = make_beta_schedule(settings.beta_schedule, settings.warmup_epochs, settings.beta)
    # First, so that the loggers after it record the epoch's beta.
    callbacks = [beta_schedule] if beta_schedule is not None else []
    callbacks += [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(os.path.join(settings.out, "history.csv")),
        keras.callbacks.TensorBoard(os.path.join(settings.out, "tensorboard")),
    ]
    start = time.perf_counter()
    history = model.fit(
        train_data,
        epochs=settings.epochs,
        steps_per_epoch=settings.steps_per_epoch,
        validation_data=test_data,
        callbacks=callbacks,
        verbose=settings.verbose,
    )
    train_seconds = time.perf_counter() - start
    losses = history.history.get("loss", [])
    if model.stop_training and losses and not np.isfinite(losses[-1]):
        raise FloatingPointError(
            "Training stopped: the loss became NaN or infinite (TerminateOnNaN). Lower --learning-rate, "
            "check the data for extreme values, or use a Bernoulli likelihood for pixels in [0, 1]."
        )
    test = model.evaluate(test_data, verbose=0, return_dict=True)
    metrics = {
        "test": {
            "elbo": float(test["elbo"]),
            "reconstruction": float(test["reconstruction"]),
            "kl": float(test["kl"]),
            "units": "nats per example",
            "num_examples": int(len(model_test_images)),
        },
        "train_seconds": train_seconds,
        "epochs_completed": len(losses),
        "settings": dataclasses.asdict(settings),
    }
    atomic.save_model(model, os.path.join(settings.out, MODEL_FILE))
    atomic.write_json(os.path.join(settings.out, "metrics.json"), metrics)
    plotting.save_figure(plotting.plot_samples(model, n=64, seed=settings.seed), os.path.join(settings.out, "samples.png"))
    plotting.save_figure(
        plotting.plot_reconstructions(
            model, model_test_images[:24], originals=None if settings.binarize == "none" else test_images[:24]
        ),
        os.path.join(settings.out, "reconstructions.png"),
    )
    return metrics


__all__ = ["DataError", "TrainSettings", "check_run_directory", "train"]

