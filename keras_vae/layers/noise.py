"""Noise for the training steps: stateless draws with TensorFlow's Philox generator.

`keras.random.normal` and `keras.random.uniform` call `tf.random.stateless_*` with the
default algorithm ("auto_select"). Inside an XLA-compiled step on CPU that costs many
times what Philox costs for the same draws (`bench/bench_noise.py`; on this project's
2-core machine 2.7 ms against 0.16 ms for a (128, 40) normal draw, a large share of an
MLP VAE's training step), so keras_vae's layers draw their noise here. Outside XLA the
two cost the same. The seeds come from a `keras.random.SeedGenerator`, as in Keras.
"""

import tensorflow as tf

ALGORITHM = "philox"


def _seed(seed):
    if isinstance(seed, tf.Tensor) or not hasattr(seed, "next"):
        seed = tf.convert_to_tensor(seed)
    else:
        seed = seed.next()
    # The stateless ops take an int32 or int64 pair; XLA wants int32 (as Keras casts it).
    return tf.cast(tf.math.floormod(tf.cast(seed, tf.int64), 2**31 - 1), tf.int32)


def normal(shape, seed, dtype="float32"):
    """Returns N(0, 1) draws of `shape`.

    Args:
        shape: tuple of int or a shape tensor.
        seed: `keras.random.SeedGenerator` (advanced by one draw) or a (2,) integer seed tensor.
        dtype: str, default "float32".

    Example:
    >>> import keras
    >>> tuple(normal((2, 3), keras.random.SeedGenerator(0)).shape)
    (2, 3)
    """
    return tf.random.stateless_normal(shape, seed=_seed(seed), dtype=dtype, alg=ALGORITHM)


def uniform(shape, seed, dtype="float32"):
    """Returns U[0, 1) draws of `shape` (arguments as for `normal`).

    Example:
    >>> import keras
    >>> float(tf.reduce_max(uniform((100,), keras.random.SeedGenerator(0)))) < 1.0
    True
    """
    return tf.random.stateless_uniform(shape, seed=_seed(seed), dtype=dtype, alg=ALGORITHM)


def stateless_seed(seed, stream=0):
    """Returns the (2,) int32 stateless seed `[stream, seed mod (2^31 - 1)]` of a user's integer seed.

    Every stateless draw a user can reproduce by seed (`sample`, the exported `sample` and
    `elbo` signatures, the export's verification and calibration draws) builds its seed
    here, so the same integer gives the same z everywhere.

    Args:
        seed: int or int scalar tensor.
        stream: int, default 0. Separates independent streams under one user seed.

    Example:
    >>> stateless_seed(7, stream=1).numpy().tolist()
    [1, 7]
    """
    seed = tf.math.floormod(tf.cast(seed, tf.int64), 2**31 - 1)
    return tf.stack([tf.constant(stream, tf.int32), tf.cast(seed, tf.int32)])
