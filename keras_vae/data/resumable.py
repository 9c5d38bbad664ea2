"""A training stream whose every epoch is a pure function of (seed, epoch).

`make_dataset(..., repeat=True)` is one long stream: after a restart it begins again at
its first batch, so a resumed run would see other batches than an uninterrupted one.
`make_epoch_dataset` instead derives epoch e's shuffle and binarization from stateless
seeds (seed, e): started at `initial_epoch` it replays exactly the batches an
uninterrupted run sees from that epoch on.
"""

from __future__ import annotations

import math

import tensorflow as tf

from keras_vae.data.pipeline import checked_images

# Epoch e, pass p (with steps_per_epoch an epoch may span several passes) and batch k
# map to stateless seed pairs [seed, e * _STRIDE + p] and [seed + 1, e * _STRIDE + k].
_STRIDE = 1 << 20


def epoch_steps(num_examples, batch_size, steps_per_epoch=None):
    """Returns the batches per epoch: `steps_per_epoch`, else ceil(N / batch_size)."""
    return int(steps_per_epoch) if steps_per_epoch else math.ceil(num_examples / int(batch_size))


def make_epoch_dataset(
    images, *, batch_size=128, binarize="none", seed=0, epochs=1, steps_per_epoch=None, initial_epoch=0
):
    """Returns `(dataset, steps)`: the batches of epochs `initial_epoch .. epochs - 1`, in order.

    Epoch e is a function of (seed, e) only. Without `steps_per_epoch` it is one pass over
    a permutation drawn with `tf.random.experimental.stateless_shuffle(seed=[seed, e])`,
    ending in a short batch; with it, it is the first `steps_per_epoch` full batches of a
    stream of such permutations. Dynamic binarization draws batch k of epoch e with
    stateless seed [seed + 1, e * 2**20 + k]. Pass the returned `steps` to `fit`'s
    `steps_per_epoch` (Keras then keeps one iterator across epochs).

    Args:
        images: images accepted by `validate_images`.
        batch_size: int, default 128.
        binarize: str, default "none". One of BINARIZATIONS.
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
    """
    x = checked_images(images, batch_size, binarize, seed)
    n = len(x)
    batch_size = int(batch_size)
    steps = epoch_steps(n, batch_size, steps_per_epoch)
    passes = math.ceil(steps * batch_size / n) if steps_per_epoch else 1
    seed = int(seed) % (2**31 - 1)
    pixels = tf.constant(x)
    indices = tf.range(n, dtype=tf.int64)

    def permutation(epoch, p):
        pair = tf.stack([tf.constant(seed, tf.int64), epoch * _STRIDE + p])
        return tf.random.experimental.stateless_shuffle(indices, seed=pair)

    def one_epoch(epoch):
        order = tf.data.Dataset.range(passes).map(lambda p: permutation(epoch, p)).unbatch()
        if steps_per_epoch:
            batches = order.batch(batch_size, drop_remainder=True).take(steps)
        else:
            batches = order.batch(batch_size)
        batches = batches.enumerate().map(lambda k, idx: (epoch * _STRIDE + k, tf.gather(pixels, idx)))
        if binarize == "dynamic":

            def draw(step, batch):
                pair = tf.stack([tf.constant(seed + 1, tf.int64), step])
                u = tf.random.stateless_uniform(tf.shape(batch), seed=pair, dtype=batch.dtype)
                return tf.cast(u < batch, batch.dtype)

            return batches.map(draw)
        return batches.map(lambda step, batch: batch)

    dataset = tf.data.Dataset.range(int(initial_epoch), int(epochs)).flat_map(one_epoch)
    return dataset.prefetch(tf.data.AUTOTUNE), steps
