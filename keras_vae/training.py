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

from keras_vae import atomic
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
from keras_vae import training_kinds
from keras_vae.models.builder import ARCHITECTURES, MODEL_KINDS, build_model
from keras_vae.models.loading import MODEL_FILE
from keras_vae.models.vae import OBJECTIVES
from keras_vae.posteriors import POSTERIORS
from keras_vae.priors import PRIORS
from keras_vae.data.resumable import make_epoch_dataset
from keras_vae.distribute import STRATEGIES, is_chief, make_strategy, task
from keras_vae.resume import AtomicBackupAndRestore, backup_epoch, truncate_history

BACKUP_DIR = "backup"  # RUN_DIR/backup: the state of an unfinished run (see keras_vae.resume)


@dataclasses.dataclass
class TrainSettings:
    """Settings of one training run; the defaults train the README's default model.

    Args:
        dataset: str, default "fashion_mnist". A TFDS image dataset name; ignored when `data` is set.
        data: str or None, default None. A folder of PNG/JPEG images or a .npy/.npz array.
        data_dir: str or None, default None. TFDS data directory (None: TFDS' default).
        architecture: str, default "mlp". "mlp" or "conv".
        latent_dim: int, default 32.
        likelihood: str, default "bernoulli". A name in `keras_vae.likelihoods.LIKELIHOODS`: "bernoulli",
            "gaussian", "continuous_bernoulli", "heteroscedastic_gaussian" or "discretized_logistic"
            (8-bit images: data k/255, needs binarize "none").
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
        prior: str, default "standard_normal". "standard_normal", "mixture" (learned mixture of
            Gaussians) or "vamp" (VampPrior, Tomczak & Welling 2018).
        posterior: str, default "diagonal". "diagonal", "full_covariance" or "iaf" (inverse
            autoregressive flow, Kingma et al. 2016).
        beta_schedule: str, default "constant". "constant", "linear" (warm-up from 0 to `beta`
            over `warmup_epochs`) or "cyclical" (Fu et al. 2019: cycles of 2 * `warmup_epochs`).
        warmup_epochs: int, default 10. Length of the beta warm-up.
        validation_fraction: float, default 0.1. Held-out share of a user's own data.
        seed: int, default 0.
        out: str, default "runs/default". The run directory.
        overwrite: bool, default False. Replace a run directory that holds a trained model.
        jit_compile: bool, default True. Compile the train step with XLA.
        deterministic: bool, default False. Enable TensorFlow op determinism
            (`tf.config.experimental.enable_op_determinism`): the same seed gives bitwise
            identical weights, at some speed cost.
        strategy: str, default "none". "none", "mirrored" (all local GPUs/CPU) or
            "multi-worker" (MultiWorkerMirroredStrategy from TF_CONFIG); see docs/distributed.md.
            `batch_size` is the global batch, split over the replicas.
        verbose: int or str, default "auto". Keras' progress-bar setting.
        model: str, default "vae". "vae", "cvae" (conditional on the data's class labels),
            "ae" (autoencoder) or "dae" (denoising autoencoder).
        noise_std: float, default 0.2. Gaussian input noise of a "dae".
        mask_probability: float, default 0.0. Masking noise of a "dae".
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
    prior: str = "standard_normal"
    posterior: str = "diagonal"
    beta_schedule: str = "constant"
    warmup_epochs: int = 10
    validation_fraction: float = 0.1
    seed: int = 0
    out: str = "runs/default"
    overwrite: bool = False
    jit_compile: bool = True
    verbose: object = "auto"
    deterministic: bool = False
    strategy: str = "none"
    model: str = "vae"
    noise_std: float = 0.2
    mask_probability: float = 0.0

    def check(self):
        """Raises ValueError naming the first invalid setting and its valid values."""
        choices = {
            "architecture": sorted(ARCHITECTURES),
            "likelihood": sorted(LIKELIHOODS),
            "binarize": list(BINARIZATIONS),
            "objective": list(OBJECTIVES),
            "beta_schedule": list(BETA_SCHEDULES),
            "prior": sorted(PRIORS),
            "posterior": sorted(POSTERIORS),
            "strategy": list(STRATEGIES),
            "model": list(MODEL_KINDS),
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
        if self.free_bits > 0 and (self.prior != "standard_normal" or self.posterior != "diagonal"):
            raise ValueError(
                "free_bits needs a KL per latent dimension, so the diagonal posterior and the standard normal "
                f"prior; got prior {self.prior!r} and posterior {self.posterior!r}."
            )
        if self.binarize != "none" and self.likelihood == "discretized_logistic":
            raise ValueError(
                f"binarize={self.binarize!r} makes binary data, but the discretized logistic likelihood models "
                "8-bit grey levels k/255; use binarize='none'."
            )
        if self.binarize != "none" and self.likelihood != "bernoulli":
            raise ValueError(
                f"binarize={self.binarize!r} makes binary data, which needs likelihood 'bernoulli'; "
                f"use binarize='none' with likelihood {self.likelihood!r}."
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
    """Returns `((train_images, train_labels), (test_images, test_labels))`, floats in [0, 1].

    For a table (.csv, 2-D .npy) the "images" are float32 rows (n, F), unbounded, without labels.
    """
    if training_kinds.is_table_run(settings):
        return training_kinds.load_table_splits(settings)
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
    # MultiWorkerMirroredStrategy must exist before any other TensorFlow op runs.
    strategy = make_strategy(settings.strategy)
    keras.utils.set_random_seed(settings.seed)
    if settings.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    chief = is_chief()
    # Other workers of a multi-worker run keep their (identical) files out of the run directory.
    out = settings.out if chief else os.path.join(settings.out, f".worker-{task()[1]}")
    backup_dir = os.path.join(out, BACKUP_DIR)
    initial_epoch = backup_epoch(backup_dir)  # > 0: resume a killed run from its last finished epoch
    (train_images, train_labels), (test_images, test_labels) = load_splits(settings)
    num_classes = training_kinds.num_classes_for(settings, train_labels, test_labels)
    likelihood = Gaussian(scale=settings.gaussian_scale) if settings.likelihood == "gaussian" else settings.likelihood
    with strategy.scope():
        model = build_model(
            settings.model,
            train_images.shape[1:],
            architecture=settings.architecture,
            latent_dim=settings.latent_dim,
            likelihood=likelihood,
            beta=settings.beta,
            num_samples=settings.num_samples,
            seed=settings.seed,
            objective=settings.objective,
            free_bits=settings.free_bits,
            prior=settings.prior,
            posterior=settings.posterior,
            num_classes=num_classes,
            noise_std=settings.noise_std,
            mask_probability=settings.mask_probability,
        )
        model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), jit_compile=settings.jit_compile)

    model_test_images = held_out_images_for(settings, test_images)
    # Conditional (labelled) and tabular runs: plain tf.data pipelines (not replayed exactly on resume).
    special = training_kinds.conditional_datasets(
        settings, (train_images, train_labels), (model_test_images, test_labels), training_kinds.is_table_run(settings)
    )
    # Every epoch is a function of (seed, epoch), so a resumed epoch replays the same batches.
    train_data, steps_per_epoch = special[:2] if special else make_epoch_dataset(
        train_images,
        batch_size=settings.batch_size,
        binarize=settings.binarize,
        seed=settings.seed,
        epochs=settings.epochs,
        steps_per_epoch=settings.steps_per_epoch,
        initial_epoch=initial_epoch,
    )
    test_data = special[2] if special else make_dataset(model_test_images, batch_size=settings.batch_size, shuffle=False)

    os.makedirs(out, exist_ok=True)
    history_path = os.path.join(out, "history.csv")
    if initial_epoch:
        truncate_history(history_path, initial_epoch)
    beta_schedule = make_beta_schedule(settings.beta_schedule, settings.warmup_epochs, settings.beta)
    # First, so that the loggers after it record the epoch's beta.
    callbacks = [beta_schedule] if beta_schedule is not None else []
    callbacks += [
        keras.callbacks.TerminateOnNaN(),
        # Before the backup: a kill between the two leaves a row that truncate_history drops.
        keras.callbacks.CSVLogger(history_path, append=initial_epoch > 0),
        AtomicBackupAndRestore(backup_dir),
        keras.callbacks.TensorBoard(os.path.join(out, "tensorboard")),
    ]
    start = time.perf_counter()
    history = model.fit(
        train_data,
        epochs=settings.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps_per_epoch,
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
            # An autoencoder has no ELBO or KL: its test dict has loss and reconstruction.
            **{key: float(test[key]) for key in ("elbo", "reconstruction", "kl", "loss") if key in test and (
                key != "loss" or "elbo" not in test)},
            "units": "nats per example",
            "num_examples": int(len(model_test_images)),
        },
        "train_seconds": train_seconds,
        "epochs_completed": initial_epoch + len(losses),
        "resumed_from_epoch": initial_epoch,
        "settings": dataclasses.asdict(settings),
    }
    if not chief:
        import shutil

        shutil.rmtree(out, ignore_errors=True)
        return metrics
    atomic.save_model(model, os.path.join(settings.out, MODEL_FILE))
    atomic.write_json(os.path.join(settings.out, "metrics.json"), metrics)
    # Image figures only for images (none for tables); samples.png only for models with a prior.
    training_kinds.write_figures(model, settings, model_test_images, test_images, test_labels)
    return metrics


__all__ = ["DataError", "TrainSettings", "check_run_directory", "train"]

