"""tf.data input pipelines: one implementation, in which every epoch is a function of (seed, epoch).

`make_epoch_dataset` is what `keras-vae train` gives `fit`: epochs `initial_epoch ..
epochs - 1` in order, epoch e's shuffle and binarization drawn from stateless seeds
(seed, e), so a run resumed at epoch e replays exactly the batches an uninterrupted run
sees from there on. `make_dataset` is the simple public pipeline on the same code: each
new iterator over it (each epoch of a plain `fit`) draws a fresh epoch key from `seed`.

Examples are images (N, H, W[, C]), checked by `validate_images` and optionally
binarized, or table rows (N, F), checked by `validate_rows` and never binarized. With
labels (class ids, or any per-example condition) the batches are `(x, labels)` pairs.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from keras_vae.data.validation import DataError, validate_images, validate_rows

BINARIZATIONS = ("none", "dynamic", "static")

# Epoch e, pass p (with steps_per_epoch an epoch may span several passes) and batch k
# map to stateless seed pairs [seed, e * _STRIDE + p] and [seed + 1, e * _STRIDE + k].
_STRIDE = 1 << 20
# `make_dataset` draws its epoch keys below this, so that key * _STRIDE stays far from int64 overflow.
_MAX_EPOCH_KEY = 1 << 31


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


def checked_examples(examples, labels, batch_size, binarize, seed):
    """Checks a pipeline's inputs and options; returns `(x, labels)` ready to batch.

    Args:
        examples: images (N, H, W[, C]) for `validate_images`, or table rows (N, F) for `validate_rows`.
        labels: array with one entry per example, or None.
        batch_size: int. Must be positive.
        binarize: str. One of `BINARIZATIONS`; tables take only "none".
        seed: int. Seed of the static binarization.

    Returns:
        tuple: (float32 array, binarized if `binarize="static"`; labels array or None).

    Example:
    >>> import numpy as np
    >>> x, y = checked_examples(np.full((2, 2, 2, 1), 0.5, "float32"), None, 2, "none", 0)
    >>> x.shape, y
    ((2, 2, 2, 1), None)
    """
    if binarize not in BINARIZATIONS:
        raise ValueError(f"binarize must be one of {list(BINARIZATIONS)}; got {binarize!r}.")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if np.ndim(examples) == 2:
        if binarize != "none":
            raise DataError(
                f"binarize={binarize!r} is for images in [0, 1]; table rows (N, F) are modelled as they are: "
                "use binarize='none'."
            )
        x = validate_rows(examples)
    else:
        x = validate_images(examples)
        if binarize == "static":
            x = binarize_static(x, seed=seed)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim == 0 or len(labels) != len(x):
            raise DataError(
                f"labels: got {labels.shape[0] if labels.ndim else 'a scalar'} labels for {len(x)} "
                f"{'rows' if x.ndim == 2 else 'images'}; pass one label per example."
            )
    return x, labels


def epoch_steps(num_examples, batch_size, steps_per_epoch=None):
    """Returns the batches per epoch: `steps_per_epoch`, else ceil(N / batch_size).

    Example:
    >>> epoch_steps(10, 4), epoch_steps(10, 4, steps_per_epoch=7)
    (3, 7)
    """
    return int(steps_per_epoch) if steps_per_epoch else math.ceil(num_examples / int(batch_size))


def _epoch_function(x, labels, *, batch_size, binarize, seed, shuffle, passes, steps, drop_remainder):
    """Returns `epoch -> tf.data.Dataset` of that epoch's batches: the one implementation of both pipelines.

    An epoch is `passes` permutations of the examples (None: endless), drawn with stateless
    seeds [seed, epoch * 2**20 + p] (or the identity order when `shuffle` is False),
    concatenated and batched, then cut to `steps` batches when given. Dynamic binarization
    draws batch k with stateless seed [seed + 1, epoch * 2**20 + k].
    """
    seed = int(seed) % (2**31 - 1)
    examples = tf.constant(x)
    targets = None if labels is None else tf.constant(labels)
    indices = tf.range(len(x), dtype=tf.int64)

    def order(epoch, p):
        if not shuffle:
            return indices
        pair = tf.stack([tf.constant(seed, tf.int64), epoch * _STRIDE + p])
        return tf.random.experimental.stateless_shuffle(indices, seed=pair)

    def one_epoch(epoch):
        pass_numbers = tf.data.Dataset.range(passes) if passes else tf.data.Dataset.counter()
        batches = pass_numbers.map(lambda p: order(epoch, p)).unbatch().batch(batch_size, drop_remainder=drop_remainder)
        if steps:
            batches = batches.take(steps)

        def gather(k, idx):
            batch = tf.gather(examples, idx)
            if binarize == "dynamic":
                pair = tf.stack([tf.constant(seed + 1, tf.int64), epoch * _STRIDE + k])
                u = tf.random.stateless_uniform(tf.shape(batch), seed=pair, dtype=batch.dtype)
                batch = tf.cast(u < batch, batch.dtype)
            return batch if targets is None else (batch, tf.gather(targets, idx))

        return batches.enumerate().map(gather, num_parallel_calls=tf.data.AUTOTUNE)

    return one_epoch


def make_epoch_dataset(
    examples,
    labels=None,
    *,
    batch_size=128,
    binarize="none",
    seed=0,
    epochs=1,
    steps_per_epoch=None,
    initial_epoch=0,
):
    """Returns `(dataset, steps)`: the batches of epochs `initial_epoch .. epochs - 1`, in order.

    Epoch e is a function of (seed, e) only. Without `steps_per_epoch` it is one pass over
    a permutation drawn with `tf.random.experimental.stateless_shuffle(seed=[seed, e])`,
    ending in a short batch; with it, it is the first `steps_per_epoch` full batches of a
    stream of such permutations. Dynamic binarization draws batch k of epoch e with
    stateless seed [seed + 1, e * 2**20 + k]. Pass the returned `steps` to `fit`'s
    `steps_per_epoch` (Keras then keeps one iterator across epochs).

    Args:
        examples: images accepted by `validate_images`, or table rows (N, F) (`validate_rows`).
        labels: array with one entry per example (class ids or conditions), or None.
            With labels the dataset yields `(x, labels)` batches.
        batch_size: int, default 128.
        binarize: str, default "none". One of BINARIZATIONS ("none" for tables).
        seed: int, default 0.
        epochs: int, default 1. Total epochs of the run.
        steps_per_epoch: int or None, default None (one pass per epoch).
        initial_epoch: int, default 0. The first epoch to produce (resuming).

    Example:
    >>> import numpy as np
    >>> x = np.linspace(0, 1, 10 * 4, dtype="float32").reshape(10, 2, 2)
    >>> ds, steps = make_epoch_dataset(x, batch_size=4, epochs=2)
    >>> steps, [tuple(b.shape) for b in ds]
    (3, [(4, 2, 2, 1), (4, 2, 2, 1), (2, 2, 2, 1), (4, 2, 2, 1), (4, 2, 2, 1), (2, 2, 2, 1)])
    >>> later, _ = make_epoch_dataset(x, batch_size=4, epochs=2, initial_epoch=1)
    >>> all(np.array_equal(a, b) for a, b in zip(list(ds)[3:], later))
    True
    >>> rows, _ = make_epoch_dataset(np.ones((5, 3)), np.arange(5), batch_size=2)
    >>> [(tuple(x.shape), tuple(y.shape)) for x, y in rows]
    [((2, 3), (2,)), ((2, 3), (2,)), ((1, 3), (1,))]
    """
    x, labels = checked_examples(examples, labels, batch_size, binarize, seed)
    batch_size = int(batch_size)
    steps = epoch_steps(len(x), batch_size, steps_per_epoch)
    one_epoch = _epoch_function(
        x, labels, batch_size=batch_size, binarize=binarize, seed=seed, shuffle=True,
        passes=math.ceil(steps * batch_size / len(x)) if steps_per_epoch else 1,
        steps=steps if steps_per_epoch else None, drop_remainder=bool(steps_per_epoch),
    )
    dataset = tf.data.Dataset.range(int(initial_epoch), int(epochs)).flat_map(one_epoch)
    # flat_map hides the length from tf.data; Keras wants it (progress bars, no end-of-data warnings).
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(max(int(epochs) - int(initial_epoch), 0) * steps))
    return dataset.prefetch(tf.data.AUTOTUNE), steps


def make_semi_supervised_dataset(
    examples,
    labels,
    labelled_indices,
    *,
    batch_size=128,
    labelled_batch_size=None,
    binarize="none",
    seed=0,
    epochs=1,
    steps_per_epoch=None,
    initial_epoch=0,
):
    """Returns `(dataset, steps)`: mixed batches of unlabelled and labelled examples, for semi-supervised `fit`.

    Each batch is `batch_size` examples of the unlabelled stream, with label -1, followed by
    `labelled_batch_size` examples of the labelled subset with their labels: `(x, labels)`
    with len(x) = batch_size + labelled_batch_size (shorter at the end of an epoch without
    `steps_per_epoch`). The unlabelled stream is `make_epoch_dataset` over ALL examples
    (the labelled ones too, without their labels, as Kingma et al. 2014 use them); the
    small labelled set cycles: its own endless stream of seeded permutations, a function of
    (seed, epoch) as well, so a resumed run replays the same mixed batches.

    Args:
        examples: images or table rows, as for `make_epoch_dataset`.
        labels: int array (N,) of class ids 0..K-1 (only those at `labelled_indices` are used).
        labelled_indices: int array of the labelled examples' indices (`labelled_subset`).
        batch_size: int, default 128. Unlabelled examples per batch.
        labelled_batch_size: int or None, default None: min(N_l, max(1, batch_size // 4)).
        binarize, seed, epochs, steps_per_epoch, initial_epoch: as for `make_epoch_dataset`.

    Example:
    >>> x = np.linspace(0, 1, 12 * 4, dtype="float32").reshape(12, 2, 2)
    >>> ds, steps = make_semi_supervised_dataset(x, np.arange(12) % 2, [0, 1], batch_size=4, labelled_batch_size=2)
    >>> steps, [sorted(y.numpy().tolist()) for _, y in ds]  # the two labelled examples cycle
    (3, [[-1, -1, -1, -1, 0, 1], [-1, -1, -1, -1, 0, 1], [-1, -1, -1, -1, 0, 1]])
    """
    x, labels = checked_examples(examples, labels, batch_size, binarize, seed)
    if labels is None:
        raise DataError("labels: semi-supervised batches need the class labels of the labelled examples.")
    indices = np.asarray(labelled_indices, np.int64)
    if indices.ndim != 1 or not indices.size or indices.min() < 0 or indices.max() >= len(x):
        raise DataError(f"labelled_indices must be a non-empty list of example indices in [0, {len(x)}).")
    labels = labels.astype(np.int64)
    labelled_batch_size = int(labelled_batch_size or min(len(indices), max(1, int(batch_size) // 4)))
    unlabelled, steps = make_epoch_dataset(
        x, np.full(len(x), -1, np.int64), batch_size=batch_size, binarize=binarize, seed=seed, epochs=epochs,
        steps_per_epoch=steps_per_epoch, initial_epoch=initial_epoch,
    )
    # Another seed for the labelled stream: its shuffles and binarizations are not the unlabelled ones.
    labelled_epoch = _epoch_function(
        x[indices], labels[indices], batch_size=labelled_batch_size, binarize=binarize,
        seed=int(seed) + 7919, shuffle=True, passes=None, steps=steps, drop_remainder=True,
    )
    labelled = tf.data.Dataset.range(int(initial_epoch), int(epochs)).flat_map(labelled_epoch)

    def join(u, lab):
        return tf.concat([u[0], lab[0]], axis=0), tf.concat([u[1], lab[1]], axis=0)

    dataset = tf.data.Dataset.zip(unlabelled, labelled).map(join)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(max(int(epochs) - int(initial_epoch), 0) * steps))
    return dataset.prefetch(tf.data.AUTOTUNE), steps


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
    """Build a batched tf.data pipeline of float32 images in [0, 1] (or table rows).

    The same code as `make_epoch_dataset`: every new iterator over the dataset (every
    epoch of `fit`) draws a fresh epoch key from `seed`, and the epoch's shuffle and
    dynamic binarization follow from that key. So dynamic binarization draws a new
    Bernoulli sample every time an image is seen; static binarization draws once. A
    fresh pipeline with the same seed repeats the same sequence of epochs.

    Args:
        images (np.ndarray): images accepted by `validate_images`, (N, H, W[, C]), or table
            rows (N, F) (`validate_rows`; binarize must be "none").
        labels (np.ndarray | None, default None): one label per example; if given the
            dataset yields (x, y) batches, otherwise x batches.
        batch_size (int, default 128): examples per batch.
        shuffle (bool, default True): a new seeded permutation every epoch.
        binarize (str, default "none"): one of BINARIZATIONS: "none", "dynamic", "static".
        seed (int, default 0): seed of the shuffle and of the binarization draws.
        drop_remainder (bool, default False): drop the last, smaller batch of each epoch.
        repeat (bool, default False): repeat forever (use with steps_per_epoch); the
            permutations follow each other with no short batch between them.

    Returns:
        tf.data.Dataset: batches of float32 (B, H, W, C) or (B, F), or (x, y) tuples.

    Raises:
        ValueError: unknown `binarize` or a non-positive batch_size.
        DataError: invalid images or rows, or labels whose length differs from theirs.

    Example:
        >>> x = np.full((100, 28, 28, 1), 0.5, np.float32)
        >>> ds = make_dataset(x, batch_size=64, binarize="dynamic", seed=1)
        >>> [tuple(batch.shape) for batch in ds]
        [(64, 28, 28, 1), (36, 28, 28, 1)]
    """
    x, labels = checked_examples(images, labels, batch_size, binarize, seed)
    one_epoch = _epoch_function(
        x, labels, batch_size=int(batch_size), binarize=binarize, seed=seed, shuffle=shuffle,
        passes=None if repeat else 1, steps=None, drop_remainder=drop_remainder,
    )
    # A Dataset.random stream with rerandomize_each_iteration gives every new iterator a
    # fresh key, reproducible for a given seed (a seeded op inside the pipeline would
    # restart its sequence with every iterator: each epoch would be the same).
    keys = tf.data.Dataset.random(seed=int(seed), rerandomize_each_iteration=True).take(1)
    dataset = keys.map(lambda key: tf.math.floormod(key, _MAX_EPOCH_KEY)).flat_map(one_epoch)
    # flat_map hides the length from tf.data; Keras wants it (it warns at the end of data of unknown length).
    batches = len(x) // int(batch_size) if drop_remainder else math.ceil(len(x) / int(batch_size))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY if repeat else batches))
    return dataset.prefetch(tf.data.AUTOTUNE)


__all__ = [
    "BINARIZATIONS",
    "binarize_static",
    "checked_examples",
    "epoch_steps",
    "make_dataset",
    "make_epoch_dataset",
    "make_semi_supervised_dataset",
]
