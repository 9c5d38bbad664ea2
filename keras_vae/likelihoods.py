"""Decoder likelihoods p(x|z): turn decoder outputs into tfp distributions.

Each likelihood is a small Keras layer. Its `call` returns a tensor (the mean of
p(x|z), the image a user sees); `distribution(parameters, event_ndims)` builds the
`tfp.distributions` object used by the objectives. A likelihood may own weights
(the learned scale of `Gaussian`), which is why it is a layer.
"""

import keras
import numpy as np
import tensorflow_probability as tfp
from keras import ops

tfd = tfp.distributions


class Likelihood(keras.layers.Layer):
    """Base class: p(x|z) with `parameters_per_value` decoder outputs per data value.

    Subclasses implement `distribution` and `mean`, and may narrow `support`.
    """

    parameters_per_value = 1
    #: Closed interval the data must lie in, or None for the whole real line.
    support = None

    def parameter_channels(self, channels):
        """Number of decoder output channels needed for data with `channels` channels."""
        return int(channels) * self.parameters_per_value

    def distribution(self, parameters, event_ndims):
        """Returns p(x|z) as a tfd distribution whose event has `event_ndims` axes."""
        raise NotImplementedError

    def mean(self, parameters):
        """Returns E[x|z], shaped like the data."""
        raise NotImplementedError

    def call(self, parameters):
        return self.mean(parameters)


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

    def distribution(self, parameters, event_ndims):
        return tfd.Independent(
            tfd.Bernoulli(logits=parameters, dtype=parameters.dtype),
            reinterpreted_batch_ndims=event_ndims,
        )

    def mean(self, parameters):
        return ops.sigmoid(parameters)


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


LIKELIHOODS = {"bernoulli": Bernoulli, "gaussian": Gaussian}


def get_likelihood(identifier):
    """Returns a `Likelihood` from a name in `LIKELIHOODS`, a config dict, or an instance.

    Example:
    >>> type(get_likelihood("bernoulli")).__name__
    'Bernoulli'
    """
    if isinstance(identifier, Likelihood):
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if isinstance(identifier, str) and identifier.lower() in LIKELIHOODS:
        return LIKELIHOODS[identifier.lower()]()
    raise ValueError(
        f"Unknown likelihood {identifier!r}; choose one of {sorted(LIKELIHOODS)} or pass a Likelihood."
    )
