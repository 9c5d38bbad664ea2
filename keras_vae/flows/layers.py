"""Invertible Keras 3 layers for normalizing flows, each served as a `tfp.bijectors.Bijector`.

Every flow layer maps one image-shaped tensor (batch, H, W, C) to another and knows its
inverse and its log-determinant per example:

    y, log_det = layer.forward(x, training)      log_det = log |det dy/dx|, shape (batch,)
    x = layer.inverse(y)
    layer.bijector(training=False)               the same map as a tfb.Bijector over events of
                                                 rank 3 (forward, inverse, forward_log_det_jacobian)

`forward` and `inverse` go through `bijector()`, so the tfp object is the one definition of
each map, with one exception: `AffineCoupling.forward` computes y and the log-determinant from one
pass of its network, where the bijector's `forward` and `forward_log_det_jacobian` would run it
twice (RealNVP trains 2.1x faster so; bench/bench_flow_step.py); a test holds the two equal.
The weights are Keras 3 variables of the layer (the coupling networks are Keras 3 layers), so a Keras model that holds these layers tracks and saves all of them; tfb.Glow and
tfb.real_nvp_default_template would build old `tf_keras` variables that a Keras 3 model
neither trains nor saves.

The layers:
    Squeeze               (H, W, C) -> (H/2, W/2, 4C), every 2x2 block into channels; log-det 0
    ActNorm               y = (x + b) * exp(s) per channel; b, s set from the first training
                          batch so y has zero mean and unit variance per channel; log-det H W sum(s)
    InvertibleConv1x1     y = W x at every pixel, W = P L (U + diag(sign * exp(log_s))) (LU form, Kingma
                          and Dhariwal 2018); log-det = H W sum(log_s) = H W sum log|diag U|
    AffineCoupling        y = m x + (1 - m)(x exp(log_s(m x)) + t(m x)) with a checkerboard or
                          channel mask m (Dinh et al. 2017); log-det = sum (1 - m) log_s
    CouplingNetwork       the (t, log_s) network of a coupling: conv 3x3, conv 1x1, zero-initialised conv 3x3
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

tfb = tfp.bijectors

MASK_TYPES = ("checkerboard", "channel")


def _reduce_per_example(values):
    """Sums every axis but the first: (batch, ...) -> (batch,)."""
    return tf.reduce_sum(tf.reshape(values, (tf.shape(values)[0], -1)), axis=1)


def _keep_shape(x, like):
    """x with the static shape of `like` (a shape-preserving map), which some tfp bijectors drop in a graph.

    A reshape, not tf.ensure_shape: EnsureShape is no TFLite builtin op, and the decoders run on builtins only.
    """
    return tf.reshape(x, (-1,) + tuple(like.shape[1:])) if None not in like.shape[1:] else x


def _nilpotent_inverse(strict):
    """Returns (I + N)^{-1} for a strictly triangular N (C x C): prod_j (I + (-N)^(2^j)), 2^j < C.

    N^C = 0, so (I + N)^{-1} = sum_{k<C} (-N)^k, which the product gives in log2(C) matmuls:
    no triangular solve, whose op (MatrixTriangularSolve) TFLite has no builtin for.
    """
    channels = strict.shape[0]
    identity = tf.eye(channels, dtype=strict.dtype)
    power, inverse, reach = -strict, identity, 1
    while reach < channels:
        inverse = tf.matmul(inverse, identity + power)
        power = tf.matmul(power, power)
        reach *= 2
    return inverse


class FunctionBijector(tfb.Bijector):
    """A `tfb.Bijector` over rank-3 events from a layer's forward, inverse and log-det functions.

    Args:
        forward_fn: x -> y.
        inverse_fn: y -> x.
        forward_log_det_fn: x -> log |det dy/dx| per example, shape (batch,).
        name: str.
    """

    def __init__(self, forward_fn, inverse_fn, forward_log_det_fn, name="function_bijector"):
        parameters = dict(locals())
        self._forward_fn = forward_fn
        self._inverse_fn = inverse_fn
        self._forward_log_det_fn = forward_log_det_fn
        super().__init__(forward_min_event_ndims=3, validate_args=False, parameters=parameters, name=name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return {}

    def _forward(self, x):
        return self._forward_fn(x)

    def _inverse(self, y):
        return self._inverse_fn(y)

    def _forward_log_det_jacobian(self, x):
        return self._forward_log_det_fn(x)


class FlowLayer(keras.layers.Layer):
    """Base class of the invertible layers: `bijector` is the map, `forward`/`inverse` use it."""

    def bijector(self, training=False):
        """Returns this layer's map as a tfb.Bijector over events (H, W, C)."""
        raise NotImplementedError

    def ensure_built(self, x):
        """Builds the layer for x's shape when `forward` is called before Keras has built it."""
        if not self.built:
            self.build(tuple(x.shape))
            self.built = True

    def forward(self, x, training=False):
        """Returns `(y, log_det)`: y = f(x) and log |det df/dx| per example (batch,)."""
        self.ensure_built(x)
        bijector = self.bijector(training=training)
        y = bijector.forward(x)
        log_det = bijector.forward_log_det_jacobian(x, event_ndims=3)
        # A constant log-det (squeeze, actnorm, 1x1 conv) comes back without the batch axis.
        return y, tf.broadcast_to(log_det, tf.shape(x)[:1])

    def inverse(self, y):
        """Returns x = f^{-1}(y)."""
        return _keep_shape(self.bijector().inverse(y), y)

    def call(self, x, training=False):
        return self.forward(x, training=training)[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package="keras_vae")
class Squeeze(FlowLayer):
    """(H, W, C) -> (H/2, W/2, 4C): each 2x2 block of pixels becomes 4C channels (volume-preserving).

    Example:
    >>> import numpy as np
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> y = Squeeze()(x)
    >>> tuple(y.shape), float(np.abs(Squeeze().inverse(y) - x).max())
    ((1, 2, 2, 4), 0.0)
    """

    def bijector(self, training=False):
        raise TypeError("Squeeze.bijector needs the input's shape: call squeeze_bijector(shape).")

    @staticmethod
    def squeeze_bijector(event_shape):
        """Returns the tfb.Chain of Reshape, Transpose, Reshape for events of `event_shape` (H, W, C)."""
        h, w, c = (int(d) for d in event_shape)
        if h % 2 or w % 2:
            raise ValueError(f"Squeeze needs an even height and width, got {h}x{w}.")
        return tfb.Chain(
            [
                tfb.Reshape(event_shape_out=(h // 2, w // 2, 4 * c), event_shape_in=(h // 2, w // 2, 2, 2, c)),
                tfb.Transpose(perm=[0, 2, 1, 3, 4]),
                tfb.Reshape(event_shape_out=(h // 2, 2, w // 2, 2, c), event_shape_in=(h, w, c)),
            ]
        )

    def forward(self, x, training=False):
        y = self.squeeze_bijector(x.shape[1:]).forward(x)
        return y, tf.zeros(tf.shape(x)[:1], x.dtype)

    def inverse(self, y):
        h, w, c = (int(d) for d in y.shape[1:])
        if c % 4:
            raise ValueError(f"Squeeze.inverse needs a channel count divisible by 4, got {c}.")
        return self.squeeze_bijector((2 * h, 2 * w, c // 4)).inverse(y)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, h // 2, w // 2, 4 * c)


@keras.saving.register_keras_serializable(package="keras_vae")
class ActNorm(FlowLayer):
    """y = (x + loc) * exp(log_scale) per channel, initialised from the first training batch.

    On the first call with `training=True` (and only then) loc = -mean and log_scale =
    -log(std + 1e-6) of that batch per channel, so the batch leaves with zero mean and unit
    variance per channel (Kingma and Dhariwal 2018). log|det| = H W sum_c log_scale_c.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(3.0, 2.0, (64, 4, 4, 2)).astype("float32")
    >>> y, _ = ActNorm().forward(x, training=True)
    >>> bool(np.allclose(np.mean(y, axis=(0, 1, 2)), 0.0, atol=1e-4))
    True
    """

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.loc = self.add_weight(shape=(channels,), initializer="zeros", name="loc")
        self.log_scale = self.add_weight(shape=(channels,), initializer="zeros", name="log_scale")
        self.initialized = self.add_weight(shape=(), initializer="zeros", trainable=False, name="initialized")

    def initialize_from(self, x):
        """Sets loc and log_scale from batch x unless done already (a no-op afterwards)."""
        mean, variance = tf.nn.moments(x, axes=[0, 1, 2])
        fresh = self.initialized < 0.5
        self.loc.assign(tf.where(fresh, -mean, self.loc))
        self.log_scale.assign(tf.where(fresh, -tf.math.log(tf.sqrt(variance) + 1e-6), self.log_scale))
        self.initialized.assign(1.0)

    def bijector(self, training=False):
        return tfb.Chain([tfb.Scale(log_scale=self.log_scale), tfb.Shift(self.loc)])

    def forward(self, x, training=False):
        self.ensure_built(x)
        if training:
            self.initialize_from(x)
        bijector = self.bijector()
        y = bijector.forward(x)
        log_det = bijector.forward_log_det_jacobian(x, event_ndims=3)
        return y, tf.broadcast_to(log_det, tf.shape(x)[:1])


@keras.saving.register_keras_serializable(package="keras_vae")
class InvertibleConv1x1(FlowLayer):
    """y = W x at every pixel, W = P L (U + diag(sign * exp(log_s))): invertible by construction.

    The LU form (Kingma and Dhariwal 2018): L unit lower-triangular, U strictly upper
    triangular, a fixed permutation P and fixed signs, all from a random rotation; W's
    diagonal entries sign * exp(log_s) never vanish, so W stays invertible while training.
    The map is `tfb.ScaleMatvecLU`; log|det| = H W sum(log_s).

    Args:
        seed: int, default 0. Seed of the random rotation W starts from.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32")
    >>> conv = InvertibleConv1x1(seed=1)
    >>> y, log_det = conv.forward(x)
    >>> bool(np.abs(conv.inverse(y) - x).max() < 1e-5)
    True
    """

    def __init__(self, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.seed = int(seed)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        rotation, _ = np.linalg.qr(np.random.default_rng(self.seed).normal(size=(channels, channels)))
        lower_upper, permutation = (t.numpy() for t in tf.linalg.lu(tf.constant(rotation, tf.float64)))
        diagonal = np.diag(lower_upper)
        strict = lower_upper - np.diag(diagonal)
        self.lower_upper_strict = self.add_weight(
            shape=(channels, channels), initializer=keras.initializers.Constant(strict.astype("float32")), name="lu"
        )
        self.log_s = self.add_weight(
            shape=(channels,), initializer=keras.initializers.Constant(np.log(np.abs(diagonal)).astype("float32")),
            name="log_s",
        )
        self.sign = self.add_weight(
            shape=(channels,), initializer=keras.initializers.Constant(np.sign(diagonal).astype("float32")),
            trainable=False, name="sign",
        )
        self.permutation = self.add_weight(
            shape=(channels,), initializer=keras.initializers.Constant(permutation.astype("int32")),
            dtype="int32", trainable=False, name="permutation",
        )

    def lower_upper(self):
        """Returns the packed LU matrix of W: L's strict lower part, U's upper part with its diagonal."""
        channels = self.log_s.shape[0]
        # Only the strict triangles of the free matrix are used; the diagonal is sign * exp(log_s).
        strict = self.lower_upper_strict * (1.0 - tf.eye(channels))
        return strict + tf.linalg.diag(self.sign * tf.exp(self.log_s))

    def bijector(self, training=False):
        return tfb.ScaleMatvecLU(self.lower_upper(), tf.convert_to_tensor(self.permutation), validate_args=False)

    def inverse_matrix(self):
        """Returns W^{-1} = U^{-1} L^{-1} P^T from the weights alone, with matmuls only (`_nilpotent_inverse`)."""
        channels = self.log_s.shape[0]
        packed = self.lower_upper()
        strict_lower = tf.linalg.band_part(packed, -1, 0) - tf.linalg.diag(tf.linalg.diag_part(packed))
        diagonal = self.sign * tf.exp(self.log_s)
        strict_upper = tf.linalg.band_part(packed, 0, -1) - tf.linalg.diag(diagonal)
        lower_inverse = _nilpotent_inverse(strict_lower)
        # U = D (I + D^{-1} M): U^{-1} = (I + D^{-1} M)^{-1} D^{-1}.
        upper_inverse = _nilpotent_inverse(strict_upper / diagonal[:, None]) / diagonal[None, :]
        permutation = tf.linalg.lu_reconstruct(tf.eye(channels), tf.convert_to_tensor(self.permutation))
        return upper_inverse @ lower_inverse @ tf.transpose(permutation)

    def inverse(self, y):
        # The same map as the bijector's inverse (tested), but a matmul: TFLite runs it on builtin ops.
        return _keep_shape(tf.tensordot(y, tf.transpose(self.inverse_matrix()), axes=1), y)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_vae")
class CouplingNetwork(keras.layers.Layer):
    """The shift and log-scale network of an affine coupling: (batch, H, W, C_in) -> 2 x (batch, H, W, C_out).

    conv 3x3 (ReLU) -> conv 1x1 (ReLU) -> conv 3x3 initialised to zero, so a new coupling
    is the identity. log_s = scale * tanh(raw), with a learned per-channel `scale` (starts
    at 1): |log_s| stays bounded, so exp(log_s) neither overflows nor vanishes.

    Args:
        out_channels: int. C_out, the channels the coupling transforms.
        hidden_channels: int, default 64.
    """

    def __init__(self, out_channels, hidden_channels=64, **kwargs):
        super().__init__(**kwargs)
        if int(out_channels) < 1 or int(hidden_channels) < 1:
            raise ValueError(
                f"CouplingNetwork needs out_channels >= 1 and hidden_channels >= 1, got {out_channels} and "
                f"{hidden_channels}."
            )
        self.out_channels = int(out_channels)
        self.hidden_channels = int(hidden_channels)
        self.conv_in = keras.layers.Conv2D(self.hidden_channels, 3, padding="same", activation="relu", name="conv_in")
        self.conv_mid = keras.layers.Conv2D(self.hidden_channels, 1, activation="relu", name="conv_mid")
        self.conv_out = keras.layers.Conv2D(
            2 * self.out_channels, 3, padding="same", kernel_initializer="zeros", name="conv_out"
        )

    def build(self, input_shape):
        self.conv_in.build(input_shape)
        self.conv_mid.build(tuple(input_shape[:-1]) + (self.hidden_channels,))
        self.conv_out.build(tuple(input_shape[:-1]) + (self.hidden_channels,))
        self.scale = self.add_weight(shape=(self.out_channels,), initializer="ones", name="scale")

    def call(self, x):
        raw = self.conv_out(self.conv_mid(self.conv_in(x)))
        shift, raw_log_scale = raw[..., : self.out_channels], raw[..., self.out_channels :]
        return shift, self.scale * ops.tanh(raw_log_scale)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[:-1]) + (self.out_channels,)
        return shape, shape

    def get_config(self):
        return {**super().get_config(), "out_channels": self.out_channels, "hidden_channels": self.hidden_channels}


def checkerboard(height, width, parity, dtype="float32"):
    """Returns the (H, W, 1) mask m[i, j] = (i + j + parity) mod 2 (1: passes through unchanged)."""
    grid = np.add.outer(np.arange(height), np.arange(width)) + int(parity)
    return tf.constant((grid % 2).reshape(height, width, 1), dtype)


@keras.saving.register_keras_serializable(package="keras_vae")
class AffineCoupling(FlowLayer):
    """Affine coupling (Dinh et al. 2017): half the values pass, the rest are scaled and shifted by them.

    With mask m (1: passes) and (t, log_s) = NN(m x):

        y = m x + (1 - m) (x exp(log_s) + t),     x = m y + (1 - m) (y - t) exp(-log_s),
        log |det dy/dx| = sum (1 - m) log_s.

    "checkerboard": m[i, j] = (i + j + parity) mod 2 on every channel; "channel": the first
    C // 2 channels pass (parity 0) or the last C - C // 2 (parity 1), and only the other
    channels go through the network's outputs.

    Args:
        mask_type: str. "checkerboard" or "channel".
        parity: int, default 0. 0 or 1: which half passes.
        hidden_channels: int, default 64. Width of the coupling network.
        channels: int or None, default None. The input's channels, when known: a channel
            mask on fewer than 2 channels would leave nothing to transform and is refused here.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 4, 4, 2)).astype("float32")
    >>> layer = AffineCoupling("checkerboard", hidden_channels=8)
    >>> y, log_det = layer.forward(x)
    >>> tuple(log_det.shape)
    (2,)
    """

    def __init__(self, mask_type, parity=0, hidden_channels=64, channels=None, **kwargs):
        super().__init__(**kwargs)
        if mask_type not in MASK_TYPES:
            raise ValueError(f"Unknown mask_type {mask_type!r}; choose one of {list(MASK_TYPES)}.")
        if int(parity) not in (0, 1):
            raise ValueError(f"parity must be 0 or 1, got {parity}.")
        if mask_type == "channel" and channels is not None and int(channels) < 2:
            raise ValueError(
                f"A channel mask needs at least 2 channels (one to pass, one to transform), got {channels}; "
                "use mask_type='checkerboard' or squeeze first."
            )
        self.mask_type = mask_type
        self.parity = int(parity)
        self.hidden_channels = int(hidden_channels)
        self.channels = None if channels is None else int(channels)
        self.network = None

    def build(self, input_shape):
        channels = int(input_shape[-1])
        if self.channels is not None and channels != self.channels:
            raise ValueError(f"AffineCoupling was made for {self.channels} channels, got {channels}.")
        if self.mask_type == "channel" and channels < 2:
            raise ValueError(f"A channel mask needs at least 2 channels, got {channels}; squeeze first.")
        self.channels = channels
        if self.mask_type == "checkerboard":
            out_channels = channels
            in_shape = input_shape
        else:
            passing = channels // 2 if self.parity == 0 else channels - channels // 2
            out_channels = channels - passing
            in_shape = tuple(input_shape[:-1]) + (passing,)
        self.network = CouplingNetwork(out_channels, self.hidden_channels, name="network")
        self.network.build(in_shape)

    def _split(self, x):
        """Returns (passing part, transformed part) and a function joining them back."""
        if self.mask_type == "checkerboard":
            mask = checkerboard(x.shape[1], x.shape[2], self.parity, x.dtype)
            return x * mask, x, lambda passed, moved: passed + (1.0 - mask) * moved, mask
        split = self.channels // 2 if self.parity == 0 else self.channels - self.channels // 2
        a, b = x[..., :split], x[..., split:]
        if self.parity == 0:
            return a, b, lambda passed, moved: tf.concat([passed, moved], axis=-1), None
        # Parity 1: the last channels pass, the first are transformed.
        a, b = x[..., self.channels - split :], x[..., : self.channels - split]
        return a, b, lambda passed, moved: tf.concat([moved, passed], axis=-1), None

    def _shift_log_scale(self, passing, mask):
        shift, log_scale = self.network(passing)
        if mask is not None:
            shift, log_scale = shift * (1.0 - mask), log_scale * (1.0 - mask)
        return shift, log_scale

    def _forward_and_log_det(self, x):
        """Returns (y, log |det dy/dx|) from one pass of the coupling network."""
        passing, moving, join, mask = self._split(x)
        shift, log_scale = self._shift_log_scale(passing, mask)
        return join(passing, moving * tf.exp(log_scale) + shift), _reduce_per_example(log_scale)

    def forward(self, x, training=False):
        # The bijector would run the network twice, once for y and once for the log-det; training needs both.
        self.ensure_built(x)
        return self._forward_and_log_det(x)

    def _forward(self, x):
        return self._forward_and_log_det(x)[0]

    def _inverse(self, y):
        passing, moving, join, mask = self._split(y)
        shift, log_scale = self._shift_log_scale(passing, mask)
        return join(passing, (moving - shift) * tf.exp(-log_scale))

    def _log_det(self, x):
        return self._forward_and_log_det(x)[1]

    def bijector(self, training=False):
        return FunctionBijector(self._forward, self._inverse, self._log_det, name="affine_coupling")

    def get_config(self):
        return {
            **super().get_config(),
            "mask_type": self.mask_type,
            "parity": self.parity,
            "hidden_channels": self.hidden_channels,
            "channels": self.channels,
        }


@keras.saving.register_keras_serializable(package="keras_vae")
class SplitPrior(keras.layers.Layer):
    """Glow's learned prior of the factored-out half: p(z | h) = N(mean(h), exp(log_std(h))^2).

    A zero-initialised conv 3x3 on the kept half h gives (mean, log_std) per value, so a new
    prior is N(0, I).

    Args:
        out_channels: int. Channels of the factored-out z.
    """

    def __init__(self, out_channels, **kwargs):
        super().__init__(**kwargs)
        self.out_channels = int(out_channels)
        self.conv = keras.layers.Conv2D(
            2 * self.out_channels, 3, padding="same", kernel_initializer="zeros", name="conv"
        )

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, h):
        raw = self.conv(h)
        return raw[..., : self.out_channels], raw[..., self.out_channels :]

    def get_config(self):
        return {**super().get_config(), "out_channels": self.out_channels}
