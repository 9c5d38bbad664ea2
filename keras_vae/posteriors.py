"""Posteriors q(z|x) built from encoder outputs.

Encoders return `(z_mean, z_log_var)`. A posterior layer turns them into q(z|x):

- `DiagonalGaussian`: N(z_mean, diag(exp(z_log_var))), drawn with the `Sampling` layer.
- `FullCovarianceGaussian`: N(z_mean, L L^T) with L lower-triangular; its diagonal is
  exp(z_log_var / 2) and a trainable head maps (z_mean, z_log_var) to the entries below it.
- `InverseAutoregressiveFlow`: the diagonal Gaussian pushed through IAF steps (Kingma et
  al. 2016), each a Keras-3 MADE (masked dense kernels) conditioned on (z_mean, z_log_var).

Every posterior layer has `distribution(z_mean, z_log_var)` (a tfd distribution, for
users and tests) and `sample_and_log_prob(z_mean, z_log_var, eps)`, which maps standard
normal noise eps (L, batch, latent_dim) to reparameterised draws z and log q(z|x) in one
pass: the training step and the importance-sampled evaluation use it, so both see the
posterior the model actually uses.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from keras_vae.layer_lookup import lookup_layer

tfd = tfp.distributions
tfb = tfp.bijectors


def diagonal_gaussian(z_mean, z_log_var):
    """Returns q(z|x) = N(z_mean, diag(exp(z_log_var))) with event shape (latent_dim,).

    The scale is sigma = exp(0.5 * z_log_var), the parameterisation the
    `Sampling` layer uses.

    Example:
    >>> import numpy as np
    >>> q = diagonal_gaussian(np.zeros((1, 2), "float32"), np.zeros((1, 2), "float32"))
    >>> q.event_shape.as_list(), q.batch_shape.as_list()
    ([2], [1])
    """
    return tfd.Independent(tfd.Normal(loc=z_mean, scale=ops.exp(0.5 * z_log_var)), 1)


class Posterior(keras.layers.Layer):
    """Base class of q(z|x) layers; built with input_shape (None, latent_dim).

    Args:
        latent_dim: int or None, default None. When given, building with another
            latent size raises a clear error (a flow sized for another encoder).
    """

    def __init__(self, latent_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = None if latent_dim is None else int(latent_dim)
        self._declared_latent_dim = self.latent_dim

    def build(self, input_shape=None):
        latent_dim = None if input_shape is None else input_shape[-1]
        if latent_dim is None:
            raise ValueError(f"Build {type(self).__name__} with input_shape (None, latent_dim).")
        latent_dim = int(latent_dim)
        if self._declared_latent_dim is not None and latent_dim != self._declared_latent_dim:
            raise ValueError(
                f"{type(self).__name__} was made for latent_dim {self._declared_latent_dim}, but the encoder "
                f"outputs latent_dim {latent_dim}; make them equal."
            )
        self.latent_dim = latent_dim
        self._build_weights(latent_dim)
        self.built = True

    def _build_weights(self, latent_dim):
        pass

    def _check(self, z_mean):
        if z_mean.shape[-1] is not None and self.latent_dim is not None and int(z_mean.shape[-1]) != self.latent_dim:
            raise ValueError(
                f"{type(self).__name__} was built for latent_dim {self.latent_dim}, got encoder outputs of size "
                f"{z_mean.shape[-1]}."
            )

    def distribution(self, z_mean, z_log_var):
        """Returns q(z|x) as a tfd distribution with batch shape (batch,) and event shape (latent_dim,)."""
        raise NotImplementedError

    def sample_and_log_prob(self, z_mean, z_log_var, eps):
        """Returns `(z, log_q)`: z (L, batch, latent_dim) from noise eps ~ N(0, I), and log q(z|x) (L, batch)."""
        raise NotImplementedError

    def point(self, z_mean, z_log_var):
        """Returns the deterministic latent used for reconstructions (the mean for Gaussians)."""
        return z_mean

    def call(self, inputs):
        z_mean, z_log_var = inputs
        return self.point(z_mean, z_log_var)

    def get_config(self):
        config = super().get_config()
        config.update({"latent_dim": self._declared_latent_dim})
        return config


@keras.saving.register_keras_serializable(package="keras_vae")
class DiagonalGaussian(Posterior):
    """q(z|x) = N(z_mean, diag(exp(z_log_var))), the default posterior.

    Example:
    >>> import numpy as np
    >>> z, log_q = DiagonalGaussian().sample_and_log_prob(
    ...     np.zeros((1, 2), "float32"), np.zeros((1, 2), "float32"), np.zeros((1, 1, 2), "float32"))
    >>> round(float(log_q[0, 0]), 4)
    -1.8379
    """

    def distribution(self, z_mean, z_log_var):
        return diagonal_gaussian(z_mean, z_log_var)

    def sample_and_log_prob(self, z_mean, z_log_var, eps):
        z = z_mean + ops.exp(0.5 * z_log_var) * eps
        return z, diagonal_gaussian(z_mean, z_log_var).log_prob(z)


@keras.saving.register_keras_serializable(package="keras_vae")
class FullCovarianceGaussian(Posterior):
    """q(z|x) = N(z_mean, L L^T), tfd.MultivariateNormalTriL, with a learned lower-triangular L.

    diag(L) = exp(z_log_var / 2) (the encoder's scales); the entries below the diagonal
    come from a dense head on concat(z_mean, z_log_var), filled in with
    tfb.FillTriangular. The head starts at zero, so training starts from the diagonal
    posterior.

    Args:
        latent_dim: int or None, default None. Checked against the encoder when built.

    Example:
    >>> import numpy as np
    >>> posterior = FullCovarianceGaussian()
    >>> posterior.build((None, 3))
    >>> q = posterior.distribution(np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32"))
    >>> type(q).__name__, q.event_shape.as_list()
    ('MultivariateNormalTriL', [3])
    """

    def _build_weights(self, latent_dim):
        size = latent_dim * (latent_dim + 1) // 2
        self.head = keras.layers.Dense(size, kernel_initializer="zeros", bias_initializer="zeros", name="tril_head")
        self.head.build((None, 2 * latent_dim))

    def scale_tril(self, z_mean, z_log_var):
        """Returns L (batch, latent_dim, latent_dim)."""
        self._check(z_mean)
        entries = tfb.FillTriangular().forward(self.head(ops.concatenate([z_mean, z_log_var], axis=-1)))
        strictly_lower = entries - tf.linalg.band_part(entries, 0, 0)
        strictly_lower = tf.linalg.band_part(strictly_lower, -1, 0)
        return strictly_lower + tf.linalg.diag(ops.exp(0.5 * z_log_var))

    def distribution(self, z_mean, z_log_var):
        return tfd.MultivariateNormalTriL(loc=z_mean, scale_tril=self.scale_tril(z_mean, z_log_var))

    def sample_and_log_prob(self, z_mean, z_log_var, eps):
        scale = self.scale_tril(z_mean, z_log_var)
        z = z_mean + tf.linalg.matvec(scale, eps)
        return z, self.distribution(z_mean, z_log_var).log_prob(z)


def _made_masks(latent_dim, hidden_units):
    """MADE masks (Germain et al. 2015) for inputs ordered 1..D: input->hidden, hidden->output."""
    in_degrees = np.arange(1, latent_dim + 1)
    if latent_dim > 1:
        hidden_degrees = (np.arange(hidden_units) % (latent_dim - 1)) + 1
    else:
        hidden_degrees = np.full(hidden_units, 1)  # no input may reach the only output
    mask_in = (hidden_degrees[None, :] >= in_degrees[:, None]).astype("float32")
    mask_out = (in_degrees[None, :] > hidden_degrees[:, None]).astype("float32")
    return mask_in, mask_out


@keras.saving.register_keras_serializable(package="keras_vae")
class InverseAutoregressiveFlow(Posterior):
    """q(z|x): the diagonal Gaussian pushed through `num_flows` IAF steps (Kingma et al. 2016).

    Each step is tfb.Invert(tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn)): z <- (z - m(z)) *
    exp(-s(z)), with (m, s) from a Keras-3 MADE whose output i sees only z_<i, plus the context
    concat(z_mean, z_log_var) (unmasked). s = 3 tanh(raw / 3) is bounded for stability. The order of
    z is reversed between steps. Output kernels start at zero: training starts at the identity.
    Drawing z and its log-density take one pass per step (`sample_and_log_prob`); the log-density of
    an arbitrary z (`distribution(...).log_prob`) inverts the flow, D passes per step.

    Args:
        num_flows: int, default 2.
        hidden_units: int, default 64. Hidden width of each MADE.
        latent_dim: int or None, default None. Checked against the encoder when built.

    Example:
    >>> import numpy as np
    >>> flow = InverseAutoregressiveFlow(num_flows=1, hidden_units=8)
    >>> flow.build((None, 2))
    >>> zeros = np.zeros((1, 2), "float32")
    >>> z, log_q = flow.sample_and_log_prob(zeros, zeros, np.zeros((1, 1, 2), "float32"))
    >>> round(float(log_q[0, 0]), 4)  # identity at initialisation
    -1.8379
    """

    def __init__(self, num_flows=2, hidden_units=64, latent_dim=None, **kwargs):
        super().__init__(latent_dim=latent_dim, **kwargs)
        if int(num_flows) < 1 or int(hidden_units) < 1:
            raise ValueError(f"num_flows and hidden_units must be positive, got {num_flows} and {hidden_units}.")
        self.num_flows = int(num_flows)
        self.hidden_units = int(hidden_units)

    def _build_weights(self, latent_dim):
        d, h = latent_dim, self.hidden_units
        self.mask_in, self.mask_out = _made_masks(d, h)
        self.flow_weights = []
        for t in range(self.num_flows):
            glorot = keras.initializers.GlorotUniform(seed=t)
            self.flow_weights.append(
                {
                    "w_in": self.add_weight(shape=(d, h), initializer=glorot, name=f"flow{t}_w_in"),
                    "w_context": self.add_weight(shape=(2 * d, h), initializer=glorot, name=f"flow{t}_w_context"),
                    "b_in": self.add_weight(shape=(h,), initializer="zeros", name=f"flow{t}_b_in"),
                    "w_out": self.add_weight(shape=(h, 2 * d), initializer="zeros", name=f"flow{t}_w_out"),
                    "b_out": self.add_weight(shape=(2 * d,), initializer="zeros", name=f"flow{t}_b_out"),
                }
            )

    def _shift_and_log_scale_fn(self, t, context):
        w = self.flow_weights[t]
        d = self.latent_dim
        mask_out = np.concatenate([self.mask_out, self.mask_out], axis=1)

        def fn(z, **unused):
            dtype = z.dtype
            hidden = ops.matmul(z, ops.cast(w["w_in"], dtype) * self.mask_in) + ops.matmul(
                context, ops.cast(w["w_context"], dtype)
            )
            hidden = ops.relu(hidden + ops.cast(w["b_in"], dtype))
            out = ops.matmul(hidden, ops.cast(w["w_out"], dtype) * mask_out) + ops.cast(w["b_out"], dtype)
            shift, raw = out[..., :d], out[..., d:]
            return shift, 3.0 * ops.tanh(raw / 3.0)

        return fn

    def bijector(self, z_mean, z_log_var):
        """Returns the flow as a tfb.Chain of Invert(MaskedAutoregressiveFlow) and order reversals."""
        self._check(z_mean)
        context = ops.concatenate([z_mean, z_log_var], axis=-1)
        reverse = tfb.Permute(permutation=list(range(self.latent_dim - 1, -1, -1)))
        steps = []
        for t in range(self.num_flows):
            if t:
                steps.append(reverse)
            steps.append(tfb.Invert(tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=self._shift_and_log_scale_fn(t, context))))
        return tfb.Chain(list(reversed(steps)))  # Chain applies the last bijector first

    def distribution(self, z_mean, z_log_var):
        return tfd.TransformedDistribution(diagonal_gaussian(z_mean, z_log_var), self.bijector(z_mean, z_log_var))

    def sample_and_log_prob(self, z_mean, z_log_var, eps):
        self._check(z_mean)
        context = ops.concatenate([z_mean, z_log_var], axis=-1)
        z = z_mean + ops.exp(0.5 * z_log_var) * eps
        log_q = diagonal_gaussian(z_mean, z_log_var).log_prob(z)
        for t in range(self.num_flows):
            if t:
                z = ops.flip(z, axis=-1)
            shift, log_scale = self._shift_and_log_scale_fn(t, context)(z)
            z = (z - shift) * ops.exp(-log_scale)
            log_q = log_q + ops.sum(log_scale, axis=-1)  # log|det dz'/dz| = -sum log_scale
        return z, log_q

    def point(self, z_mean, z_log_var):
        z, _ = self.sample_and_log_prob(z_mean, z_log_var, ops.zeros_like(z_mean)[None])
        return z[0]

    def get_config(self):
        config = super().get_config()
        config.update({"num_flows": self.num_flows, "hidden_units": self.hidden_units})
        return config


POSTERIORS = {
    "diagonal": DiagonalGaussian,
    "full_covariance": FullCovarianceGaussian,
    "iaf": InverseAutoregressiveFlow,
}


def get_posterior(identifier):
    """Returns a `Posterior` from a name in `POSTERIORS`, a config dict, an instance, or None (diagonal).

    Example:
    >>> type(get_posterior("iaf")).__name__
    'InverseAutoregressiveFlow'
    """
    return lookup_layer(identifier, POSTERIORS, Posterior, "posterior", default=DiagonalGaussian)