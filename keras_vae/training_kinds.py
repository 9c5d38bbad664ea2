"""The parts of `keras_vae.training.train` that depend on the model kind and on tabular data.

`train` calls these so that it stays one straight path: a conditional VAE needs
labelled batches, a table needs its own loader and pipeline (no image checks),
and figures exist only for images (samples only for generative models).
"""

import os

import numpy as np

from keras_vae import plotting
from keras_vae.data.pipeline import make_dataset
from keras_vae.data.tables import is_table_file, load_user_table, make_table_dataset
from keras_vae.data.validation import DataError
from keras_vae.models.generative_model import PRIOR


def is_table_run(settings):
    """True when `settings.data` is a table: a .csv file or a 2-D .npy array."""
    return bool(settings.data) and is_table_file(settings.data)


def load_table_splits(settings):
    """Returns `((train, None), (test, None))` rows of a table, after the checks a table needs.

    Raises:
        DataError: values outside [0, 1] with a Bernoulli likelihood, or binarization asked
            for a table.
    """
    splits = load_user_table(settings.data, validation_fraction=settings.validation_fraction, seed=settings.seed)
    train = splits["train"][0]
    if settings.likelihood in ("bernoulli", "continuous_bernoulli"):
        low, high = float(train.min()), float(train.max())
        if low < 0 or high > 1:
            raise DataError(
                f"{settings.data}: features lie in [{low:g}, {high:g}], but a {settings.likelihood} likelihood "
                "needs values in [0, 1]; use --likelihood gaussian for unbounded features."
            )
    if settings.binarize != "none":
        raise DataError(
            f"{settings.data} is a table; binarize={settings.binarize!r} is for images. Pass --binarize none "
            "(the default with --likelihood gaussian)."
        )
    return splits["train"], splits["test"]


def num_classes_for(settings, train_labels, test_labels):
    """Returns the number of classes of a "cvae" run (None for other kinds); DataError without labels."""
    if getattr(settings, "model", "vae") != "cvae":
        return None
    if train_labels is None:
        raise DataError(
            "--model cvae needs class labels: use a TFDS dataset, a folder with one subfolder per class, "
            "or a .npz file with a 'labels' array."
        )
    top = int(np.max(train_labels))
    if test_labels is not None and len(test_labels):
        top = max(top, int(np.max(test_labels)))
    return max(top + 1, 2)


def conditional_datasets(settings, train, test, table):
    """Returns `(train_data, steps_per_epoch, test_data)` for a cvae or a table run, else None.

    Other runs use `keras_vae.data.resumable.make_epoch_dataset` (resumable, seeded per epoch).
    Args:
        train, test: (inputs, labels) pairs; test inputs as the model sees them.
    """
    conditional = getattr(settings, "model", "vae") == "cvae"
    if not (conditional or table):
        return None
    repeat = settings.steps_per_epoch is not None
    train_labels = train[1] if conditional else None
    test_labels = test[1] if conditional else None
    if table:
        train_data = make_table_dataset(
            train[0], train_labels, batch_size=settings.batch_size, seed=settings.seed, repeat=repeat
        )
        test_data = make_table_dataset(test[0], test_labels, batch_size=settings.batch_size, shuffle=False)
    else:
        train_data = make_dataset(
            train[0], train_labels, batch_size=settings.batch_size, binarize=settings.binarize,
            seed=settings.seed, repeat=repeat,
        )
        test_data = make_dataset(test[0], test_labels, batch_size=settings.batch_size, shuffle=False)
    return train_data, settings.steps_per_epoch, test_data


def write_figures(model, settings, model_test_images, test_images, test_labels=None):
    """Writes samples.png and reconstructions.png into `settings.out`; returns the names written.

    What is drawn follows what the model can do (the model contract), not its class:
    flat (tabular) data gets no figures; samples.png needs a prior (`model.can(PRIOR)`)
    and a model that samples without a given condition (a class-conditional model's
    samples cycle through the classes; a vector-conditional one has no default);
    a conditional model reconstructs the test images under their labels.
    """
    if len(model.data_shape) != 3:
        return []
    written = []
    if model.can(PRIOR) and (not model.takes_condition or model.num_classes is not None):
        fig = plotting.plot_samples(model, n=64, seed=settings.seed)
        plotting.save_figure(fig, os.path.join(settings.out, "samples.png"))
        written.append("samples.png")
    plotting.save_figure(
        plotting.plot_reconstructions(
            model,
            model_test_images[:24],
            originals=None if settings.binarize == "none" else test_images[:24],
            condition=test_labels[:24] if model.takes_condition else None,
        ),
        os.path.join(settings.out, "reconstructions.png"),
    )
    written.append("reconstructions.png")
    return written
