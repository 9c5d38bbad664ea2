"""Posteriors q(z|x) built from encoder outputs."""

import tensorflow_probability as tfp
from keras import ops

tfd = tfp.distributions


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
