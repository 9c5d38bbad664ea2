"""Decoder likelihoods p(x|z): turn decoder outputs into tfp distributions.

Each likelihood is a small Keras layer. Its `call` returns a tensor (the mean of
p(x|z), the image a user sees); `distribution(parameters, event_ndims)` builds the
`tfp.distributions` object used by the objectives. A likelihood may own weights
(the learned scale of `Gaussian`), which is why it is a layer.
"""

import contextlib
import threading

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from keras_vae.layer_lookup import lookup_layer

tfd = tfp.distributions


class Likelihood(keras.layers.Layer):
    """Base class: p(x|z) with `parameters_per_value` decoder outputs per data value.

    Subclasses implement `distribution` and `mean`, and may narrow `support`.
    """

    parameters_per_value = 1
    #: Closed interval the data must lie in, or None for the whole real line.
    support = None
    #: Name of E[x|z] among the exported outputs (`named_outputs`, the TFLite decoder's output).
    mean_name = "mean"

    def parameter_channels(self, channels):
        """Number of decoder output channels needed for data with `channels` channels."""
        return int(channels) * self.parameters_per_value

    def distribution(self, parameters, event_ndims):
        """Returns p(x|z) as a tfd distribution whose event has `event_ndims` axes."""
        raise NotImplementedError

    def mean(self, parameters):
        """Returns E[x|z], shaped like the data."""
        raise NotImplementedError

    def draw(self, parameters, seed):
        """Returns one draw x ~ p(x|z) per row of decoder outputs, shaped like the data.

        Generic for every likelihood: the draw of `distribution(parameters)` (a tfd
        distribution over the data, event = all axes but the batch), with a stateless
        seed. Bernoulli gives binary images, a Gaussian E[x|z] plus N(0, sigma^2) noise;
        `mean` (the `call`) is E[x|z] instead.

        Args:
            parameters: float tensor (batch, *data_shape[:-1], channels * parameters_per_value).
            seed: (2,) int32 tensor, a stateless seed (`keras_vae.layers.noise.stateless_seed`).

        Example:
        >>> import numpy as np
        >>> from keras_vae.layers.noise import stateless_seed
        >>> x = Bernoulli().draw(np.zeros((2, 3), "float32"), stateless_seed(0))
        >>> sorted(set(np.asarray(x).ravel().tolist())) in ([0.0], [1.0], [0.0, 1.0])
        True
        """
        parameters = ops.convert_to_tensor(parameters)
        distribution = self.distribution(parameters, event_ndims=len(parameters.shape) - 1)
        return distribution.sample(seed=seed)

    def log_prob(self, parameters, x, event_ndims):
        """Returns log p(x|z), summed over the last `event_ndims` axes: `distribution(...).log_prob(x)`.

        A likelihood with a cheaper closed form of the same density overrides it (`Bernoulli`).
        """
        return self.distribution(parameters, event_ndims).log_prob(x)

    def call(self, parameters):
        return self.mean(parameters)

    def named_outputs(self, parameters):
        """Returns what a `decode` signature serves for the decoder's outputs: `{mean_name: E[x|z]}`."""
        return {self.mean_name: self.mean(parameters)}


def _flatten_events(values, event_ndims):
    """Reshapes (*batch, *event) to (*batch, prod(event)), the last `event_ndims` axes made one."""
    values = tf.convert_to_tensor(values)
    return tf.reshape(values, tf.concat([tf.shape(values)[: values.shape.rank - int(event_ndims)], [-1]], axis=0))


@keras.saving.register_keras_serializable(package="keras_vae")
class Bernoulli(Likelihood):
    """p(x|z) = prod_i Bernoulli(x_i; sigmoid(logit_i)); the decoder outputs logits.

    log p(x|z) = sum_i x_i log sigmoid(l_i) + (1 - x_i) log sigmoid(-l_i), which is
    the negative binary cross-entropy, also for grey values x_i in [0, 1] (then it
    is not a normalised density; binarize the data for a true likelihood).

    Example:
    >>> import numpy as np
    >>> d = Bernoulli().distribution(np.zeros((1, 2, 2, 1), "float32"), event_ndims=3)
    >>> round(float(d.log_prob(np.ones((1, 2, 2, 1), "float32"))[0]), 4)
    -2.7726
    """

    support = (0.0, 1.0)
    # E[x|z] of a Bernoulli is the pixels' probability of being on.
    mean_name = "probabilities"

    def distribution(self, parameters, event_ndims):
        return tfd.Independent(
            tfd.Bernoulli(logits=parameters, dtype=parameters.dtype),
            reinterpreted_batch_ndims=event_ndims,
        )

    def log_prob(self, parameters, x, event_ndims):
        """log p(x|z) from the logits l in one fused form, summed over the last `event_ndims` axes.

        tfp's Bernoulli computes -softplus(-l) x - softplus(l) (1 - x), two softplus and two
        masked products per value; since softplus(l) - softplus(-l) = l this is

            log p(x|z) = sum_i x_i l_i - softplus(l_i),

        one product and one softplus (and a gradient of x - sigmoid(l)), the same density to
        float32 rounding. It costs a large share of a step: the decoder's output is the largest
        tensor of an MLP VAE, and importance sampling evaluates it K times per image.

        Example:
        >>> import numpy as np
        >>> logits, x = np.zeros((1, 2), "float32"), np.ones((1, 2), "float32")
        >>> round(float(Bernoulli().log_prob(logits, x, event_ndims=1)[0]), 4)  # 2 log(1/2)
        -1.3863
        """
        x = ops.cast(x, parameters.dtype)
        # The pixels are independent given z, so the event axes may be summed as one flat axis:
        # XLA vectorises a reduction over 784 contiguous values, not over 28 x 28 x 1.
        parameters, x = _flatten_events(parameters, event_ndims), _flatten_events(x, event_ndims)
        return ops.sum(x * parameters - ops.softplus(parameters), axis=-1)

    def mean(self, parameters):
        return ops.sigmoid(parameters)

    def named_outputs(self, parameters):
        """Returns `{"probabilities": sigmoid(logits), "logits": logits}` (clients threshold either)."""
        return {self.mean_name: self.mean(parameters), "logits": parameters}


@keras.saving.register_keras_serializable(package="keras_vae")
class Gaussian(Likelihood):
    """p(x|z) = prod_i N(x_i; mu_i(z), sigma^2); the decoder outputs mu.

    Args:
        scale: float or None, default None. A fixed sigma; None learns one global
            sigma = softplus(w) + min_scale, initialised at `initial_scale`.
        initial_scale: float, default 0.1. Starting value of a learned sigma; pixel
            residuals of image models are of this order, and Adam moves sigma by
            only about 0.1 % per step, so a start far from it wastes epochs.
        min_scale: float, default 1e-3. Lower bound of a learned sigma, so that the
            log-density stays finite when the fit becomes exact.

    Example:
    >>> import numpy as np
    >>> d = Gaussian(scale=1.0).distribution(np.zeros((1, 1), "float32"), event_ndims=1)
    >>> round(float(d.log_prob(np.zeros((1, 1), "float32"))[0]), 4)
    -0.9189
    """

    def __init__(self, scale=None, initial_scale=0.1, min_scale=1e-3, **kwargs):
        super().__init__(**kwargs)
        if scale is not None and not scale > 0:
            raise ValueError(f"Gaussian scale must be positive or None (learned), got {scale}.")
        if not initial_scale > min_scale:
            raise ValueError(f"initial_scale ({initial_scale}) must exceed min_scale ({min_scale}).")
        self.scale = None if scale is None else float(scale)
        self.initial_scale = float(initial_scale)
        self.min_scale = float(min_scale)
        if self.scale is None:
            # Inverse softplus, so that the learned sigma starts at initial_scale.
            raw = np.log(np.expm1(self.initial_scale - self.min_scale))
            self.raw_scale = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(raw), name="raw_scale"
            )

    def build(self, input_shape):
        self.built = True

    def stddev(self):
        """Returns sigma as a scalar tensor."""
        if self.scale is None:
            return ops.softplus(self.raw_scale) + self.min_scale
        return ops.convert_to_tensor(self.scale, dtype=self.compute_dtype)

    def distribution(self, parameters, event_ndims):
        scale = ops.cast(self.stddev(), parameters.dtype)
        return tfd.Independent(
            tfd.Normal(loc=parameters, scale=scale), reinterpreted_batch_ndims=event_ndims
        )

    def mean(self, parameters):
        return parameters

    def get_config(self):
        config = super().get_config()
        config.update(
            {"scale": self.scale, "initial_scale": self.initial_scale, "min_scale": self.min_scale}
        )
        return config


def _split_channels(parameters):
    """Splits decoder outputs (..., 2C) into two tensors (..., C): first half, second half."""
    channels = parameters.shape[-1]
    if channels is None or channels % 2:
        raise ValueError(
            f"This likelihood needs an even number of decoder output channels (2 per data channel), got {channels}."
        )
    half = channels // 2
    return parameters[..., :half], parameters[..., half:]


@keras.saving.register_keras_serializable(package="keras_vae")
class ContinuousBernoulli(Likelihood):
    """p(x|z) = prod_i CB(x_i; sigmoid(logit_i)), the continuous Bernoulli (Loaiza-Ganem & Cunningham 2019).

    A normalised density on [0, 1] for grey values: CB(x; l) = C(l) l^x (1 - l)^(1 - x)
    with C(l) = 2 atanh(1 - 2l) / (1 - 2l) (C(0.5) = 2). The decoder outputs logits;
    `mean` is the distribution's mean, not sigmoid(logit).

    Example:
    >>> import numpy as np
    >>> d = ContinuousBernoulli().distribution(np.zeros((1, 2), "float32"), event_ndims=1)
    >>> round(float(d.log_prob(np.full((1, 2), 0.3, "float32"))[0]), 4)  # logit 0: uniform on [0, 1]
    0.0
    """

    support = (0.0, 1.0)

    def distribution(self, parameters, event_ndims):
        return tfd.Independent(
            tfd.ContinuousBernoulli(logits=parameters, dtype=parameters.dtype), reinterpreted_batch_ndims=event_ndims
        )

    def mean(self, parameters):
        return tfd.ContinuousBernoulli(logits=parameters, dtype=parameters.dtype).mean()


@keras.saving.register_keras_serializable(package="keras_vae")
class HeteroscedasticGaussian(Likelihood):
    """p(x|z) = prod_i N(x_i; mu_i(z), sigma_i(z)^2): the decoder predicts a scale per value.

    The decoder outputs 2C channels for C data channels: the first C are the means,
    the last C give sigma = softplus(raw) + min_scale.

    Args:
        min_scale: float, default 1e-3. Lower bound of sigma, so the density stays finite.

    Example:
    >>> import numpy as np
    >>> params = np.concatenate([np.zeros((1, 1)), np.full((1, 1), np.log(np.e - 1))], -1).astype("float32")
    >>> d = HeteroscedasticGaussian(min_scale=0.0).distribution(params, event_ndims=1)  # sigma = 1
    >>> round(float(d.log_prob(np.zeros((1, 1), "float32"))[0]), 4)
    -0.9189
    """

    parameters_per_value = 2

    def __init__(self, min_scale=1e-3, **kwargs):
        super().__init__(**kwargs)
        if not float(min_scale) >= 0:
            raise ValueError(f"min_scale must be non-negative, got {min_scale}.")
        self.min_scale = float(min_scale)

    def stddev(self, parameters):
        """Returns sigma(z), shaped like the data."""
        return ops.softplus(_split_channels(parameters)[1]) + self.min_scale

    def distribution(self, parameters, event_ndims):
        loc, _ = _split_channels(parameters)
        return tfd.Independent(
            tfd.Normal(loc=loc, scale=self.stddev(parameters)), reinterpreted_batch_ndims=event_ndims
        )

    def mean(self, parameters):
        return _split_channels(parameters)[0]

    def get_config(self):
        config = super().get_config()
        config.update({"min_scale": self.min_scale})
        return config


class DiscretizedLogisticDistribution(tfd.Distribution):
    """Logistic(loc, exp(log_scale)) discretised to the grid {0, 1/(B-1), ..., 1} (B = num_bins).

    P(x = k/(B-1)) = F(x + h) - F(x - h), h = 1 / (2 (B-1)), with the first bin taking
    F(h) and the last 1 - F(1 - h), so the B probabilities sum to 1 (Salimans et al. 2017).
    log_prob is computed from log-sigmoids, stably in both tails. `mean` is the exact
    mean over the bins.

    Args:
        loc: float tensor. Location on the [0, 1] scale.
        log_scale: float tensor. Log of the logistic scale.
        num_bins: int, default 256.

    Example:
    >>> import numpy as np
    >>> d = DiscretizedLogisticDistribution(np.float32(0.5), np.float32(-3.0))
    >>> grid = np.arange(256, dtype="float32") / 255
    >>> round(float(np.exp(d.log_prob(grid)).sum()), 4)
    1.0
    """

    def __init__(self, loc, log_scale, num_bins=256, validate_args=False, allow_nan_stats=True,
                 name="DiscretizedLogistic"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            self._loc = tf.convert_to_tensor(loc)
            if not self._loc.dtype.is_floating:
                self._loc = tf.cast(self._loc, tf.float32)
            dtype = self._loc.dtype
            self._log_scale = tf.convert_to_tensor(log_scale, dtype=dtype)
            self._num_bins = int(num_bins)
            super().__init__(
                dtype=dtype,
                reparameterization_type=tfd.NOT_REPARAMETERIZED,
                validate_args=validate_args,
                allow_nan_stats=allow_nan_stats,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return dict(loc=tfp.util.ParameterProperties(), log_scale=tfp.util.ParameterProperties())

    @property
    def loc(self):
        return self._loc

    @property
    def log_scale(self):
        return self._log_scale

    def _event_shape(self):
        return tf.TensorShape([])

    def _event_shape_tensor(self):
        return tf.constant([], dtype=tf.int32)

    def _log_prob(self, x):
        x = tf.convert_to_tensor(x, self.dtype)
        half_bin = 0.5 / (self._num_bins - 1)
        inv_scale = tf.exp(-self._log_scale)
        upper = inv_scale * (x - self._loc + half_bin)
        lower = inv_scale * (x - self._loc - half_bin)
        # sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - exp(b - a)), all in logs.
        log_first = tf.math.log_sigmoid(upper)  # x = 0: F(h)
        log_last = tf.math.log_sigmoid(-lower)  # x = 1: 1 - F(1 - h)
        log_mid = (
            tf.math.log_sigmoid(upper) + tf.math.log_sigmoid(-lower)
            + tfp.math.log1mexp(upper - lower)
        )
        return tf.where(x < half_bin, log_first, tf.where(x > 1.0 - half_bin, log_last, log_mid))

    def _mean(self):
        # E[x] = sum_{k>=1} P(x >= k/(B-1)) / (B-1) = mean_k (1 - F((k - 1/2)/(B-1))).
        edges = (tf.range(1, self._num_bins, dtype=self.dtype) - 0.5) / (self._num_bins - 1)
        loc = self._loc[..., None]
        scale = tf.exp(self._log_scale)[..., None]
        return tf.reduce_mean(tf.math.sigmoid((loc - edges) / scale), axis=-1)

    def _sample_n(self, n, seed=None):
        shape = tf.concat([[n], self._batch_shape_tensor(loc=self._loc, log_scale=self._log_scale)], 0)
        u = tf.random.stateless_uniform(shape, seed=tfp.random.sanitize_seed(seed), minval=1e-6, maxval=1 - 1e-6,
                                        dtype=self.dtype)
        y = self._loc + tf.exp(self._log_scale) * (tf.math.log(u) - tf.math.log1p(-u))
        k = tf.clip_by_value(tf.round(y * (self._num_bins - 1)), 0.0, self._num_bins - 1.0)
        return k / (self._num_bins - 1)


@keras.saving.register_keras_serializable(package="keras_vae")
class DiscretizedLogistic(Likelihood):
    """p(x|z) for 8-bit images: a logistic per pixel, discretised to the 256 values k/255.

    Data are floats in [0, 1] meaning k/255. The decoder outputs 2C channels: C
    locations and C raw log-scales (log s = max(raw, min_log_scale)). The bins have
    width 1/255 and the edge bins extend to -inf and +inf, so log p(x|z) is a true
    log-probability and bits/dim = NLL / (D ln 2) compares with published numbers.

    Args:
        num_bins: int, default 256. Number of grey levels.
        min_log_scale: float, default -7.0. Floor of the log-scale.

    Example:
    >>> import numpy as np
    >>> params = np.array([[0.5, -3.0]], "float32")  # loc 0.5, log-scale -3
    >>> d = DiscretizedLogistic().distribution(params, event_ndims=1)
    >>> round(float(d.log_prob(np.array([[128 / 255]], "float32"))[0]), 3)
    -3.928
    """

    parameters_per_value = 2
    support = (0.0, 1.0)

    def __init__(self, num_bins=256, min_log_scale=-7.0, **kwargs):
        super().__init__(**kwargs)
        if int(num_bins) < 2:
            raise ValueError(f"num_bins must be at least 2, got {num_bins}.")
        self.num_bins = int(num_bins)
        self.min_log_scale = float(min_log_scale)

    def _parts(self, parameters):
        loc, raw = _split_channels(parameters)
        return loc, ops.maximum(raw, ops.cast(self.min_log_scale, raw.dtype))

    def distribution(self, parameters, event_ndims):
        loc, log_scale = self._parts(parameters)
        return tfd.Independent(
            DiscretizedLogisticDistribution(loc, log_scale, num_bins=self.num_bins),
            reinterpreted_batch_ndims=event_ndims,
        )

    def mean(self, parameters):
        loc, log_scale = self._parts(parameters)
        return DiscretizedLogisticDistribution(loc, log_scale, num_bins=self.num_bins).mean()

    def get_config(self):
        config = super().get_config()
        config.update({"num_bins": self.num_bins, "min_log_scale": self.min_log_scale})
        return config


LIKELIHOODS = {
    "bernoulli": Bernoulli,
    "gaussian": Gaussian,
    "continuous_bernoulli": ContinuousBernoulli,
    "heteroscedastic_gaussian": HeteroscedasticGaussian,
    "discretized_logistic": DiscretizedLogistic,
}


def get_likelihood(identifier):
    """Returns a `Likelihood` from a name in `LIKELIHOODS`, a config dict, or an instance.

    Example:
    >>> type(get_likelihood("bernoulli")).__name__
    'Bernoulli'
    """
    return lookup_layer(identifier, LIKELIHOODS, Likelihood, "likelihood")


_XLA = threading.local()


@contextlib.contextmanager
def log_densities_with_xla():
    """Within this context, `log_prob_function` gives log-densities compiled with XLA.

    For importance-sampled evaluation on a CPU, where the decoder runs as a TensorFlow
    graph and the log-density is evaluated on chunk x batch x pixels values at once:
    TensorFlow's CPU kernels compute Bernoulli's sum_i x_i l_i - softplus(l_i) in four
    passes, and its softplus kernel alone costs more than the decoder's 300 x 784 matrix
    product on 25,000 latents; XLA fuses the passes and halves the log-density's time
    (`bench/bench_speed.py --part is_pieces`): IS-1000 of an MLP VAE 1.25x faster
    (`--part is`, 2 cores). Only `keras_vae.evaluation` enters it: graphs traced elsewhere (the train
    step, the exported signatures) never contain an XLA-compiled function, so a
    SavedModel does not need XLA to run.

    Example:
    >>> import numpy as np
    >>> logits, x = np.zeros((1, 2), "float32"), np.ones((1, 2), "float32")
    >>> with log_densities_with_xla():
    ...     log_prob = log_prob_function(Bernoulli())
    >>> round(float(log_prob(logits, x, event_ndims=1)[0]), 4)
    -1.3863
    """
    previous = getattr(_XLA, "on", False)
    _XLA.on = True
    try:
        yield
    finally:
        _XLA.on = previous


def log_prob_function(likelihood):
    """Returns `likelihood.log_prob`, compiled with XLA inside `log_densities_with_xla()`.

    Args:
        likelihood: a `Likelihood`.

    Returns:
        A callable (parameters, x, event_ndims) -> log p(x|z): the same density either way,
        to float32 rounding.
    """
    if not getattr(_XLA, "on", False):
        return likelihood.log_prob
    # event_ndims is a Python int: each value traces once; autograph has nothing to convert.
    return tf.function(likelihood.log_prob, jit_compile=True, autograph=False)
