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
from keras_vae.data import DataError, make_dataset, make_epoch_dataset, make_semi_supervised_dataset
from keras_vae.distribute import is_chief, make_strategy, task
from keras_vae.likelihoods import Gaussian
from keras_vae.models.builder import build_model
from keras_vae.models.generative_model import PRIOR
from keras_vae.models.semi_supervised_vae import paper_alpha
from keras_vae.resume import AtomicBackupAndRestore, truncate_history
from keras_vae.runs import (
    BACKUP_DIR,
    HISTORY_FILE,
    LABELLED_FILE,
    MODEL_FILE,
    TENSORBOARD_DIR,
    WORKER_PREFIX,
    Run,
    count_classes,
    labelled_indices,
    load_splits,
    model_inputs,
)
from keras_vae.settings import TrainSettings


def _build(settings, data_shape, num_classes, **extra_options):
    likelihood = Gaussian(scale=settings.gaussian_scale) if settings.likelihood == "gaussian" else settings.likelihood
    model = build_model(
        settings.model,
        data_shape,
        architecture=settings.architecture,
        latent_dim=settings.latent_dim,
        likelihood=likelihood,
        seed=settings.seed,
        num_classes=num_classes,
        network_options={"activation": settings.activation, "hidden_units": settings.hidden_units},
        **settings.model_options(),
        **extra_options,
    )
    compile_model(model, settings)
    return model


#: Architectures whose train step XLA slows down on a CPU: XLA:CPU's convolutions and their gradients
#: ran the conv VAE's step about 2-4x slower than TensorFlow's oneDNN kernels (bench/bench_speed.py).
XLA_SLOWER_ON_CPU = ("conv",)

#: Strategies whose train step all-reduces across workers: XLA:CPU has no collectives ("Collectives are
#: not yet implemented for CPU devices when compiling with XLA", b/194942685), and both workers of the
#: README's cluster command crashed in native code (double free, segmentation fault) after that error.
XLA_UNSUPPORTED_ON_CPU = ("multi-worker",)


def uses_xla(settings):
    """True when the train step of a run with `settings` is compiled with XLA.

    `jit_compile` allows XLA. On a machine without a GPU the step runs as a TensorFlow graph
    instead for the architectures in `XLA_SLOWER_ON_CPU` and the strategies in
    `XLA_UNSUPPORTED_ON_CPU`.

    Args:
        settings: the run's `TrainSettings` (jit_compile, architecture, strategy).

    Example:
    >>> uses_xla(TrainSettings(jit_compile=False)), uses_xla(TrainSettings(architecture="mlp"))
    (False, True)
    >>> uses_xla(TrainSettings(strategy="multi-worker"))  # the suite's machines have no GPU
    False
    """
    if not settings.jit_compile:
        return False
    on_cpu = not tf.config.list_physical_devices("GPU")
    return not (on_cpu and (settings.architecture in XLA_SLOWER_ON_CPU or settings.strategy in XLA_UNSUPPORTED_ON_CPU))


def compile_model(model, settings, steps_per_execution=1):
    """Compiles `model` for training as `settings` say: Adam at `learning_rate`, XLA where `uses_xla`.

    Args:
        model: the built model.
        settings: the run's `TrainSettings`.
        steps_per_execution: int, default 1. Train steps per call of the compiled function.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        jit_compile=uses_xla(settings),
        steps_per_execution=steps_per_execution,
    )


def _hold_out(split, fraction, seed):
    """Returns `(train, validation)`: round(N * fraction) examples of `split`, picked by a seeded permutation."""
    n = len(split.examples)
    count = int(round(n * fraction))
    if count < 1 or count >= n:
        raise DataError(
            f"Early stopping holds out validation_fraction={fraction} of {n} training examples, which leaves "
            f"{count} for validation; change validation_fraction or set early_stopping_patience to 0."
        )
    order = np.random.default_rng(seed).permutation(n)
    held, kept = np.sort(order[:count]), np.sort(order[count:])

    def part(index):
        labels = None if split.labels is None else split.labels[index]
        return dataclasses.replace(split, examples=split.examples[index], labels=labels)

    return part(kept), part(held)


def _early_stopping(model, patience):
    # The ELBO, not the loss: during a KL warm-up the loss changes with beta, the ELBO does not.
    monitor, mode = ("val_elbo", "max") if "elbo" in model.metric_names else ("val_loss", "min")
    return keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience, restore_best_weights=True)


def _num_classes(settings, splits):
    """The class count a label-conditioned model needs (None for other kinds); DataError without labels."""
    if not settings.needs_labels:
        return None
    if splits["train"].labels is None:
        raise DataError(
            f"--model {settings.model} needs class labels: use a TFDS dataset, a folder with one subfolder per "
            "class, or a .npz file with a 'labels' array."
        )
    present = np.unique(splits["train"].labels)
    if len(present) == 1:
        # count_classes would make it 2 classes, one of them empty, and the failure would name that one.
        raise DataError(
            f"--model {settings.model} learns from class labels, but every training label of "
            f"{settings.m1_run or settings.data or settings.dataset} is class {int(present[0])}: it needs examples "
            "of at least 2 classes. Add examples of other classes, or train a model that needs no labels "
            "(e.g. --model vae)."
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
        # Kinds that sample at a temperature (flows) show T = 1 and T = 0.7 (Kingma and Dhariwal 2018).
        temperatures = plotting.SAMPLE_TEMPERATURES if model.samples_at_temperature else None
        plotting.save_figure(
            plotting.plot_samples(model, n=64, seed=settings.seed, temperatures=temperatures),
            os.path.join(run_dir, "samples.png"),
        )
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
    validation = test
    if settings.early_stopping_patience:
        # Early stopping chooses the epoch: it must not see the test split it is judged on.
        train_split, validation = _hold_out(train_split, settings.validation_fraction, settings.seed)
    num_classes = _num_classes(settings, splits)
    extra_options, labelled = {}, None
    if settings.semi_supervised:
        # The balanced labelled subset: a function of (labels, settings), recorded in the run below.
        labelled = labelled_indices(settings, train_split, num_classes)
        extra_options["alpha"] = settings.alpha if settings.alpha is not None else paper_alpha(
            len(train_split.examples), len(labelled))
    with strategy.scope():
        if settings.objective == "tcvae":  # beta-TCVAE's estimator of q(z) needs the training set's size
            extra_options["dataset_size"] = len(train_split.examples)
        model = _build(settings, train_split.examples.shape[1:], num_classes, **extra_options)
    # A model that takes a condition gets (x, labels) batches; the others x alone.
    conditional = model.takes_condition
    test_inputs = model_inputs(settings, test.examples)
    test_data = make_dataset(
        test_inputs, test.labels if conditional else None, batch_size=settings.batch_size, shuffle=False
    )
    validation_data = test_data
    if validation is not test:
        validation_data = make_dataset(
            model_inputs(settings, validation.examples),
            validation.labels if conditional else None,
            batch_size=settings.batch_size,
            shuffle=False,
        )

    with run.claim(settings) as initial_epoch:
        # Every epoch is a function of (seed, epoch), so a resumed epoch replays the same batches.
        common = dict(
            batch_size=settings.batch_size,
            binarize=settings.binarize,
            seed=settings.seed,
            epochs=settings.epochs,
            steps_per_epoch=settings.steps_per_epoch,
            initial_epoch=initial_epoch,
        )
        if labelled is not None:
            run.record_labelled(labelled, train_split.labels, resumed=initial_epoch > 0)
            train_data, steps_per_epoch = make_semi_supervised_dataset(
                train_split.examples, train_split.labels, labelled, **common
            )
        else:
            train_data, steps_per_epoch = make_epoch_dataset(
                train_split.examples, labels=train_split.labels if conditional else None, **common
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
            # Kept after fit until the run is finished (Run.write_metrics): a run failing while it saves
            # its model or draws its figures is resumed at its end by its own command.
            AtomicBackupAndRestore(run.file(BACKUP_DIR), delete_at_end=False),
            keras.callbacks.TensorBoard(run.file(TENSORBOARD_DIR)),
        ]
        if settings.early_stopping_patience:
            callbacks.append(_early_stopping(model, settings.early_stopping_patience))
        start = time.perf_counter()
        history = model.fit(
            train_data,
            epochs=settings.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            validation_data=validation_data,
            callbacks=callbacks,
            verbose=settings.verbose,
        )
        train_seconds = time.perf_counter() - start
        losses = history.history.get("loss", [])
        if model.stop_training and losses and not np.isfinite(losses[-1]):
            reason = (
                "Training stopped: the loss became NaN or infinite (TerminateOnNaN). Lower --learning-rate, "
                "check the data for extreme values, or use a Bernoulli likelihood for pixels in [0, 1]."
            )
            run.record_failure(settings, reason)  # its backup holds NaN weights: a rerun starts afresh
            raise FloatingPointError(reason)
        test_metrics = model.evaluate(test_data, verbose=0, return_dict=True)
        metrics = {
            "test": {
                # An autoencoder has no ELBO or KL: its test dict has loss and reconstruction.
                **{key: float(value) for key, value in test_metrics.items() if (
                    key in model.metric_names and (key != "loss" or "elbo" not in test_metrics))},
                "units": "nats per example",
                "num_examples": int(len(test_inputs)),
            },
            "train_seconds": train_seconds,
            "epochs_completed": initial_epoch + len(losses),
            "resumed_from_epoch": initial_epoch,
            "settings": dataclasses.asdict(settings),
        }
        if labelled is not None:
            metrics["labelled_subset"] = {"num_labelled": int(len(labelled)), "file": LABELLED_FILE,
                                          "alpha": float(model.alpha)}
        if chief:
            atomic.save_model(model, run.file(MODEL_FILE))
            write_figures(model, settings, test, run.path)
            # Last: the final metrics.json marks the run finished.
            run.write_metrics(metrics)
    if not chief:
        shutil.rmtree(run.path, ignore_errors=True)
    return metrics


__all__ = ["DataError", "TrainSettings", "train", "write_figures"]
