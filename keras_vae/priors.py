"""Priors p(z) as small Keras layers that build tfp distributions.

A prior's weights are made in `build(input_shape, data_shape=None)`, where
`input_shape` is `(None, latent_dim)`; the VAE calls it with its data shape too,
which `VampPrior` needs for its pseudo-inputs. `distribution(latent_dim, dtype,
encoder=None)` returns p(z); priors that are defined through the model's encoder
(`VampPrior`) take it from the `encoder` argument, which `VAE.prior_distribution`
passes.
"""

import keras
import numpy as np
import tensorflow_probability as tfp
from keras import ops

from keras_vae.layer_lookup import lookup_layer

tfd = tfp.distributions


class Prior(keras.layers.Layer):
    """Base class: `distribution(latent_dim, dtype, encoder)` returns p(z) with event shape (latent_dim,)."""

    #: True when `distribution` needs the model's encoder.
    needs_encoder = False

    def distribution(self, latent_dim, dtype="float32", encoder=None):
        raise NotImplementedError

    def build(self, input_shape=None, data_shape=None):
        self.built = True


@keras.saving.register_keras_serializable(package="keras_vae")
class StandardNormal(Prior):
    """p(z) = N(0, I).

    Example:
    >>> p = StandardNormal().distribution(2)
    >>> round(float(p.log_prob([0.0, 0.0])), 4)
    -1.8379
    """

    def distribution(self, latent_dim, dtype="float32", encoder=None):
        zeros = ops.zeros((latent_dim,), dtype=dtype)
        return tfd.Independent(tfd.Normal(loc=zeros, scale=ops.ones_like(zeros)), 1)


def _latent_dim_of(input_shape):
    if input_shape is None or input_shape[-1] is None:
        raise ValueError("Build this prior with input_shape (None, latent_dim); the VAE does so in its build.")
    return int(input_shape[-1])


@keras.saving.register_keras_serializable(package="keras_vae")
class MixtureOfGaussians(Prior):
    """A learned mixture p(z) = sum_k pi_k N(z; m_k, diag(s_k^2)).

    pi = softmax(logits), s = softplus(raw) + min_scale. The means start as N(0, 1)
    draws (seeded), the scales at 1 and the weights uniform. The KL against it has
    no closed form, so the VAE uses the Monte Carlo estimate.

    Args:
        num_components: int, default 10.
        min_scale: float, default 1e-3. Lower bound of the component scales.
        seed: int or None, default 0. Seed of the initial means.

    Example:
    >>> prior = MixtureOfGaussians(num_components=3)
    >>> prior.build((None, 2))
    >>> p = prior.distribution(2)
    >>> p.event_shape.as_list(), tuple(p.sample(5, seed=1).shape)
    ([2], (5, 2))
    """

    def __init__(self, num_components=10, min_scale=1e-3, seed=0, **kwargs):
        super().__init__(**kwargs)
        if int(num_components) < 1:
            raise ValueError(f"num_components must be a positive integer, got {num_components}.")
        self.num_components = int(num_components)
        self.min_scale = float(min_scale)
        self.seed = seed
        self.latent_dim = None

    def build(self, input_shape=None, data_shape=None):
        self.latent_dim = _latent_dim_of(input_shape)
        k, d = self.num_components, self.latent_dim
        self.logits = self.add_weight(shape=(k,), initializer="zeros", name="logits")
        self.means = self.add_weight(
            shape=(k, d), initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed), name="means"
        )
        raw = float(np.log(np.expm1(1.0 - self.min_scale)))
        self.raw_scales = self.add_weight(
            shape=(k, d), initializer=keras.initializers.Constant(raw), name="raw_scales"
        )
        self.built = True

    def distribution(self, latent_dim, dtype="float32", encoder=None):
        if int(latent_dim) != self.latent_dim:
            raise ValueError(f"This prior was built for latent_dim {self.latent_dim}, not {latent_dim}.")
        scales = ops.softplus(ops.cast(self.raw_scales, dtype)) + self.min_scale
        return tfd.MixtureSameFamily(
            tfd.Categorical(logits=ops.cast(self.logits, dtype)),
            tfd.Independent(tfd.Normal(loc=ops.cast(self.means, dtype), scale=scales), 1),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"num_components": self.num_components, "min_scale": self.min_scale, "seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="keras_vae")
class VampPrior(Prior):
    """The VampPrior (Tomczak & Welling 2018): p(z) = (1/K) sum_k q(z|u_k) over learned pseudo-inputs u_k.

    The components are the encoder's diagonal Gaussians N(z_mean(u_k), diag(exp(z_log_var(u_k)))),
    so the prior needs the model's encoder: pass it as `distribution(..., encoder=...)`
    (`VAE.prior_distribution` does). The pseudo-inputs are weights of shape
    (K, *data_shape); with `pseudo_input_range="unit"` they are sigmoid(w), so they stay in
    [0, 1] like image data, initialised near 0.5 +- 0.1 (w ~ N(0, 0.5^2), seeded).

    Args:
        num_pseudo_inputs: int, default 50. K.
        pseudo_input_range: str, default "unit". "unit" (sigmoid, for data in [0, 1]) or "real".
        seed: int or None, default 0. Seed of the initial pseudo-inputs.

    Example:
    >>> from keras_vae import MLPEncoder
    >>> encoder = MLPEncoder(latent_dim=2, hidden_units=(8,))
    >>> prior = VampPrior(num_pseudo_inputs=4)
    >>> prior.build((None, 2), data_shape=(3,))
    >>> float(prior.distribution(2, encoder=encoder).log_prob([[0.0, 0.0]])[0]) < 0
    True
    """

    needs_encoder = True

    def __init__(self, num_pseudo_inputs=50, pseudo_input_range="unit", seed=0, **kwargs):
        super().__init__(**kwargs)
        if int(num_pseudo_inputs) < 1:
            raise ValueError(f"num_pseudo_inputs must be a positive integer, got {num_pseudo_inputs}.")
        if pseudo_input_range not in ("unit", "real"):
            raise ValueError(f"pseudo_input_range must be 'unit' or 'real', got {pseudo_input_range!r}.")
        self.num_pseudo_inputs = int(num_pseudo_inputs)
        self.pseudo_input_range = pseudo_input_range
        self.seed = seed
        self.latent_dim = None

    def build(self, input_shape=None, data_shape=None):
        self.latent_dim = _latent_dim_of(input_shape)
        if data_shape is None:
            raise ValueError("VampPrior needs the data shape for its pseudo-inputs: build(input_shape, data_shape).")
        self.data_shape = tuple(int(d) for d in data_shape)
        self.pseudo_weights = self.add_weight(
            shape=(self.num_pseudo_inputs,) + self.data_shape,
            initializer=keras.initializers.RandomNormal(stddev=0.5, seed=self.seed),
            name="pseudo_inputs",
        )
        self.built = True

    def pseudo_inputs(self):
        """Returns the K pseudo-inputs u_k, shape (K, *data_shape)."""
        if self.pseudo_input_range == "unit":
            return ops.sigmoid(self.pseudo_weights)
        return ops.convert_to_tensor(self.pseudo_weights)

    def distribution(self, latent_dim, dtype="float32", encoder=None):
        if encoder is None:
            raise ValueError(
                "VampPrior is defined through the encoder: call distribution(latent_dim, dtype, encoder=...) "
                "or use VAE.prior_distribution()."
            )
        if int(latent_dim) != self.latent_dim:
            raise ValueError(f"This prior was built for latent_dim {self.latent_dim}, not {latent_dim}.")
        z_mean, z_log_var = encoder(ops.cast(self.pseudo_inputs(), dtype), training=False)
        return tfd.MixtureSameFamily(
            tfd.Categorical(logits=ops.zeros((self.num_pseudo_inputs,), dtype=dtype)),
            tfd.Independent(tfd.Normal(loc=z_mean, scale=ops.exp(0.5 * z_log_var)), 1),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_pseudo_inputs": self.num_pseudo_inputs,
                "pseudo_input_range": self.pseudo_input_range,
                "seed": self.seed,
            }
        )
        return config


PRIORS = {"standard_normal": StandardNormal, "mixture": MixtureOfGaussians, "vamp": VampPrior}


def get_prior(identifier):
    """Returns a `Prior` from a name in `PRIORS`, a config dict, an instance, or None (N(0, I)).

    Example:
    >>> type(get_prior("vamp")).__name__
    'VampPrior'
    """
    return lookup_layer(identifier, PRIORS, Prior, "prior", default=StandardNormal)