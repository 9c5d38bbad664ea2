"""Priors p(z) as small Keras layers that build tfp distributions."""

import keras
import tensorflow_probability as tfp
from keras import ops

tfd = tfp.distributions


class Prior(keras.layers.Layer):
    """Base class: `distribution(latent_dim, dtype)` returns p(z) with event shape (latent_dim,)."""

    def distribution(self, latent_dim, dtype="float32"):
        raise NotImplementedError

    def build(self, input_shape=None):
        self.built = True


@keras.saving.register_keras_serializable(package="keras_vae")
class StandardNormal(Prior):
    """p(z) = N(0, I).

    Example:
    >>> p = StandardNormal().distribution(2)
    >>> round(float(p.log_prob([0.0, 0.0])), 4)
    -1.8379
    """

    def distribution(self, latent_dim, dtype="float32"):
        zeros = ops.zeros((latent_dim,), dtype=dtype)
        return tfd.Independent(tfd.Normal(loc=zeros, scale=ops.ones_like(zeros)), 1)


PRIORS = {"standard_normal": StandardNormal}


def get_prior(identifier):
    """Returns a `Prior` from a name in `PRIORS`, a config dict, an instance, or None (N(0, I))."""
    if identifier is None:
        return StandardNormal()
    if isinstance(identifier, Prior):
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if isinstance(identifier, str) and identifier.lower() in PRIORS:
        return PRIORS[identifier.lower()]()
    raise ValueError(f"Unknown prior {identifier!r}; choose one of {sorted(PRIORS)} or pass a Prior.")
