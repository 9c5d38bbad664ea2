"""Trains a model from settings and writes a run directory.

This is the logic behind `keras-vae train`; the command line only parses
arguments into `TrainSettings` and calls `train`. A run directory holds
(layout and ownership rules: `keras_vae.runs`):

    metrics.json         the settings from the start; at the end the test ELBO, reconstruction
                         and KL (nats per example)
    model.keras          the trained model (loads without custom_objects)
    history.csv          per-epoch metrics from keras.callbacks.CSVLogger
    samples.png          images decoded from prior draws (models with a prior)
    reconstructions.png  test inputs above their reconstructions (images only)
    tensorboard/         TensorBoard logs

Every model kind and every kind of data (images, labelled images, tables) goes through
the same path: the batches come from `keras_vae.data.make_epoch_dataset`, whose epochs
are functions of (seed, epoch), so a killed run re-run with the same command resumes
exactly where it stopped.
"""

import dataclasses
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf

from keras_vae import atomic, plotting
from keras_vae.callbacks import make_beta_schedule
from keras_vae.data import DataError, make_dataset, make_epoch_dataset
from keras_vae.distribute import is_chief, make_strategy, task
from keras_vae.likelihoods import Gaussian
from keras_vae.models.builder import build_model
from keras_vae.models.generative_model import PRIOR
from keras_vae.models.vae import TC_METRIC_NAMES
from keras_vae.resume import AtomicBackupAndRestore, truncate_history
from keras_vae.runs import (
    BACKUP_DIR,
    HISTORY_FILE,
    MODEL_FILE,
    TENSORBOARD_DIR,
    WORKER_PREFIX,
    Run,
    count_classes,
    load_splits,
    model_inputs,
)
from keras_vae.settings import TrainSettings


def _build(settings, data_shape, num_classes, dataset_size=None):
    likelihood = Gaussian(scale=settings.gaussian_scale) if settings.likelihood == "gaussian" else settings.likelihood
    model = build_model(
        settings.model,
        data_shape,
        architecture=settings.architecture,
        latent_dim=settings.latent_dim,
        likelihood=likelihood,
        seed=settings.seed,
        num_classes=num_classes,
        # beta-TCVAE's estimator of q(z) needs the training set's size.
        dataset_size=dataset_size if settings.objective == "tcvae" else None,
        **settings.model_options(),
    )
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), jit_compile=settings.jit_compile)
    return model


def _num_classes(settings, splits):
    """The class count a label-conditioned model needs (None for other kinds); DataError without labels."""
    if not settings.needs_labels:
        return None
    if splits["train"].labels is None:
        raise DataError(
            f"--model {settings.model} needs class labels: use a TFDS dataset, a folder with one subfolder per "
            "class, or a .npz file with a 'labels' array."
        )
    return count_classes(splits["train"].labels, splits["test"].labels)


def write_figures(model, settings, test, run_dir):
    """Writes samples.png and reconstructions.png into `run_dir`; returns the names written.

    Flat (tabular) data gets no figures; a model without a prior (`model.can(PRIOR)` False)
    no samples.png. Reconstructions of a model that takes a condition use the test labels.

    Args:
        model: the trained model.
        settings: the run's `TrainSettings`.
        test: the test `keras_vae.runs.Split` (grey images; the model sees `model_inputs`).
        run_dir: str.
    """
    if len(model.data_shape) != 3:
        return []
    written = []
    if model.can(PRIOR):
        plotting.save_figure(plotting.plot_samples(model, n=64, seed=settings.seed), os.path.join(run_dir, "samples.png"))
        written.append("samples.png")
    # The first 24 of `model_inputs(settings, test.examples)`: a static draw's prefix is the same draw.
    images = test.examples[:24]
    plotting.save_figure(
        plotting.plot_reconstructions(
            model,
            model_inputs(settings, images),
            originals=None if settings.binarize == "none" else images,
            condition=test.labels[:24] if model.takes_condition else None,
        ),
        os.path.join(run_dir, "reconstructions.png"),
    )
    written.append("reconstructions.png")
    return written


def train(settings):
    """Trains a model as `settings` say and writes the run directory; returns its metrics dict.

    Every check that can fail (settings, output directory, data, model) runs before the
    run directory is touched. The directory is locked while training writes it; re-running
    the command of a killed run resumes it from its last finished epoch.

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
    chief = is_chief()
    # Other workers of a multi-worker run keep their (identical) files out of the run directory.
    run = Run(settings.out if chief else os.path.join(settings.out, f"{WORKER_PREFIX}{task()[1]}"))
    run.check_destination(settings)
    # MultiWorkerMirroredStrategy must exist before any other TensorFlow op runs.
    strategy = make_strategy(settings.strategy)
    keras.utils.set_random_seed(settings.seed)
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    splits = load_splits(settings)
    train_split, test = splits["train"], splits["test"]
    with strategy.scope():
        model = _build(
            settings, train_split.examples.shape[1:], _num_classes(settings, splits), len(train_split.examples)
        )
    # A model that takes a condition gets (x, labels) batches; the others x alone.
    conditional = model.takes_condition
    test_inputs = model_inputs(settings, test.examples)
    test_data = make_dataset(
        test_inputs, test.labels if conditional else None, batch_size=settings.batch_size, shuffle=False
    )

    with run.claim(settings) as initial_epoch:
        # Every epoch is a function of (seed, epoch), so a resumed epoch replays the same batches.
        train_data, steps_per_epoch = make_epoch_dataset(
            train_split.examples,
            labels=train_split.labels if conditional else None,
            batch_size=settings.batch_size,
            binarize=settings.binarize,
            seed=settings.seed,
            epochs=settings.epochs,
            steps_per_epoch=settings.steps_per_epoch,
            initial_epoch=initial_epoch,
        )
        history_path = run.file(HISTORY_FILE)
        if initial_epoch:
            truncate_history(history_path, initial_epoch)
        beta_schedule = make_beta_schedule(settings.beta_schedule, settings.warmup_epochs, settings.beta)
        # First, so that the loggers after it record the epoch's beta.
        callbacks = [beta_schedule] if beta_schedule is not None else []
        callbacks += [
            keras.callbacks.TerminateOnNaN(),
            # Before the backup: a kill between the two leaves a row that truncate_history drops.
            keras.callbacks.CSVLogger(history_path, append=initial_epoch > 0),
            AtomicBackupAndRestore(run.file(BACKUP_DIR)),
            keras.callbacks.TensorBoard(run.file(TENSORBOARD_DIR)),
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
        test_metrics = model.evaluate(test_data, verbose=0, return_dict=True)
        metrics = {
            "test": {
                # An autoencoder has no ELBO or KL: its test dict has loss and reconstruction.
                **{key: float(test_metrics[key]) for key in ("elbo", "reconstruction", "kl", "loss", *TC_METRIC_NAMES) if (
                    key in test_metrics and (key != "loss" or "elbo" not in test_metrics))},
                "units": "nats per example",
                "num_examples": int(len(test_inputs)),
            },
            "train_seconds": train_seconds,
            "epochs_completed": initial_epoch + len(losses),
            "resumed_from_epoch": initial_epoch,
            "settings": dataclasses.asdict(settings),
        }
        if chief:
            atomic.save_model(model, run.file(MODEL_FILE))
            write_figures(model, settings, test, run.path)
            # Last: the final metrics.json marks the run finished.
            run.write_metrics(metrics)
    if not chief:
        shutil.rmtree(run.path, ignore_errors=True)
    return metrics


__all__ = ["DataError", "TrainSettings", "train", "write_figures"]
