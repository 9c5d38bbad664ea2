"""tf.data input pipelines for VAE training, with optional binarization."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_vae.data.validation import DataError, validate_images

BINARIZATIONS = ("none", "dynamic", "static")

# Past this, a full shuffle buffer would hold another copy of a large dataset.
_MAX_SHUFFLE_BUFFER = 60000


def binarize_static(images, seed=0):
    """Binarize images once: each pixel becomes 1 with probability equal to its grey value.

    Args:
        images (np.ndarray): images accepted by `validate_images` (uint8 or float in [0, 1]).
        seed (int, default 0): seed of the single Bernoulli draw.

    Returns:
        np.ndarray: float32 array of 0.0/1.0, shape (N, H, W, C).

    Example:
        >>> xb = binarize_static(np.full((2, 28, 28), 0.5, np.float32), seed=0)
        >>> np.unique(xb).tolist()
        [0.0, 1.0]
    """
    x = validate_images(images)
    u = np.random.default_rng(seed).random(x.shape, dtype=np.float32)
    return (u < x).astype(np.float32)


def _dynamic_binarize(dataset: tf.data.Dataset, seed: int, has_labels: bool) -> tf.data.Dataset:
    # A seeded tf.random.uniform inside map restarts its sequence with every new
    # iterator, so each epoch would see the same draw (measured on TF 2.21). A
    # Dataset.random stream with rerandomize_each_iteration gives each batch a fresh
    # stateless seed per epoch while staying reproducible for a given `seed`.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def draw(x, pair):
        u = tf.random.stateless_uniform(tf.shape(x), seed=pair, dtype=tf.float32)
        return tf.cast(u < x, tf.float32)

    def draw_xy(xy, pair):
        return draw(xy[0], pair), xy[1]

    zipped = tf.data.Dataset.zip(dataset, seeds)
    return zipped.map(draw_xy if has_labels else draw, num_parallel_calls=tf.data.AUTOTUNE)


def checked_images(images, batch_size, binarize, seed):
    """Checks a pipeline's options and returns the validated images, binarized if `binarize="static"`.

    Args:
        images: array of images (see `validate_images`).
        batch_size: int. Must be positive.
        binarize: str. One of `BINARIZATIONS`.
        seed: int. Seed of the static binarization.

    Example:
    >>> import numpy as np
    >>> checked_images(np.full((2, 2, 2, 1), 0.5, "float32"), 2, "none", 0).shape
    (2, 2, 2, 1)
    """
    if binarize not in BINARIZATIONS:
        raise ValueError(f"binarize must be one of {list(BINARIZATIONS)}; got {binarize!r}.")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    x = validate_images(images)
    return binarize_static(x, seed=seed) if binarize == "static" else x


def make_dataset(
    images,
    labels=None,
    *,
    batch_size=128,
    shuffle=True,
    binarize="none",
    seed=0,
    drop_remainder=False,
    repeat=False,
):
    """Build a batched tf.data pipeline of float32 images in [0, 1].

    Order: (static binarization) -> cache -> shuffle -> repeat -> batch -> dynamic
    binarization -> prefetch. Dynamic binarization draws a new Bernoulli sample every
    time an image is seen, so it differs between epochs; static binarization draws once.

    Args:
        images (np.ndarray): images accepted by `validate_images`, (N, H, W[, C]).
        labels (np.ndarray | None, default None): one label per image; if given the
            dataset yields (x, y) batches, otherwise x batches.
        batch_size (int, default 128): images per batch.
        shuffle (bool, default True): reshuffle every epoch (seeded; buffer = N up to 60000).
        binarize (str, default "none"): one of BINARIZATIONS: "none", "dynamic", "static".
        seed (int, default 0): seed of the shuffle and of the binarization draws.
        drop_remainder (bool, default False): drop the last, smaller batch of each epoch.
        repeat (bool, default False): repeat forever (use with steps_per_epoch).

    Returns:
        tf.data.Dataset: batches of float32 (B, H, W, C), or (x, y) tuples.

    Raises:
        ValueError: unknown `binarize` or a non-positive batch_size.
        DataError: invalid images, or labels whose length differs from the images'.

    Example:
        >>> x = np.full((100, 28, 28, 1), 0.5, np.float32)
        >>> ds = make_dataset(x, batch_size=64, binarize="dynamic", seed=1)
        >>> [tuple(batch.shape) for batch in ds]
        [(64, 28, 28, 1), (36, 28, 28, 1)]
    """
    x = checked_images(images, batch_size, binarize, seed)
    n = len(x)
    if labels is not None:
        y = np.asarray(labels)
        if y.ndim == 0 or len(y) != n:
            raise DataError(
                f"labels: got {y.shape[0] if y.ndim else 'a scalar'} labels for {n} images; "
                "pass one label per image."
            )
        ds = tf.data.Dataset.from_tensor_slices((x, y))
    else:
        ds = tf.data.Dataset.from_tensor_slices(x)

    ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(
            min(n, _MAX_SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True
        )
    if repeat:
        # Before batch, so an infinite stream has no short batch at epoch ends.
        ds = ds.repeat()
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    if binarize == "dynamic":
        ds = _dynamic_binarize(ds, seed, has_labels=labels is not None)
    return ds.prefetch(tf.data.AUTOTUNE)
