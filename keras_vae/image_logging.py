"""A Keras callback that logs sample and reconstruction grids to TensorBoard.

    model.fit(data, epochs=30, callbacks=[
        keras.callbacks.TensorBoard("runs/x/tensorboard"),
        ImageLogger(test_images[:32], log_dir="runs/x/tensorboard/images"),
    ])

TensorBoard shows the grids under the "Images" tab, with a slider over epochs.
"""

import numpy as np
import tensorflow as tf
import keras

from keras_vae.models.generative_model import PRIOR
from keras_vae.plotting.tiles import as_image_batch, interleave_rows, tile_images


class ImageLogger(keras.callbacks.Callback):
    """Writes a grid of prior samples and a grid of reconstructions every `every_n_epochs` epochs.

    The summaries are "samples" (`n_samples` images decoded from prior draws with a
    fixed `seed`, so epochs are comparable) and "reconstructions" (rows of inputs
    above rows of their `model.reconstruct(x, condition)`), written with
    `tf.summary.image` at step = epoch index (0-based) to an event file in `log_dir`.
    What is logged follows what the model can do: samples only for a model with a
    prior (`model.can(PRIOR)`) that samples without a given condition (unconditional,
    or class-conditional, whose samples cycle through the classes).

    Args:
        images: array (N, H, W, C) in [0, 1], inputs to reconstruct (the first 32 at most are used).
        every_n_epochs: int, default 1.
        n_samples: int, default 64.
        seed: int, default 0. Seed of the prior draws.
        log_dir: str, default "logs/images". Directory of the event file.
        cols: int, default 8. Images per grid row.
        condition: array (N,) or (N, dim), or None, default None. The images' conditions,
            for a conditional model (`model.takes_condition`).
    """

    def __init__(
        self, images, every_n_epochs=1, n_samples=64, seed=0, log_dir="logs/images", cols=8, condition=None
    ):
        super().__init__()
        if int(every_n_epochs) < 1:
            raise ValueError(f"every_n_epochs must be a positive integer, got {every_n_epochs}.")
        if int(n_samples) < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples}.")
        images = np.asarray(images, dtype="float32")
        if images.ndim < 2 or len(images) == 0:
            raise ValueError(f"images must be a non-empty batch (N, H, W, C); got shape {images.shape}.")
        self.images = images[:32]
        self.condition = None if condition is None else np.asarray(condition)[:32]
        if self.condition is not None and len(self.condition) != len(self.images):
            raise ValueError(f"{len(self.condition)} conditions for {len(self.images)} images.")
        self.every_n_epochs = int(every_n_epochs)
        self.n_samples = int(n_samples)
        self.seed = int(seed)
        self.log_dir = str(log_dir)
        self.cols = int(cols)
        self._writer = None

    @property
    def writer(self):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        return self._writer

    def _grid(self, images):
        images = as_image_batch(images)
        cols = min(self.cols, len(images))
        grid = tile_images(images, rows=-(-len(images) // cols), cols=cols)
        if grid.ndim == 2:
            grid = grid[..., None]
        return grid[None]  # (1, height, width, channels) in [0, 1]

    @property
    def logs_samples(self):
        """True when the model has a prior and needs no condition to sample (a class model cycles classes)."""
        return self.model.can(PRIOR) and (not self.model.takes_condition or self.model.num_classes is not None)

    def sample_grid(self):
        """Returns the samples grid (1, height, width, channels) as logged."""
        return self._grid(self.model.sample(self.n_samples, seed=self.seed))

    def reconstruction_grid(self):
        """Returns the reconstructions grid (1, height, width, channels) as logged."""
        cols = min(self.cols, len(self.images))
        n = max(cols, (len(self.images) // cols) * cols)
        inputs = self.images[:n]
        condition = None if self.condition is None else self.condition[:n]
        return self._grid(interleave_rows([inputs, np.asarray(self.model.reconstruct(inputs, condition))], cols))

    def on_train_begin(self, logs=None):
        # Fail before the first epoch rather than at its end.
        if self.model.takes_condition and self.condition is None:
            raise ValueError("This model takes a condition: give ImageLogger the images' `condition` (labels).")

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        with self.writer.as_default():
            if self.logs_samples:
                tf.summary.image("samples", self.sample_grid(), step=epoch, max_outputs=1)
            tf.summary.image("reconstructions", self.reconstruction_grid(), step=epoch, max_outputs=1)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


__all__ = ["ImageLogger"]
