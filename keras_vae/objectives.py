"""Variational objectives as plain functions of distributions and samples.

Training, evaluation and the tests share these, so the ELBO has one definition:

    ELBO(x) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x)

and the importance-weighted bound of Burda et al. (2016) with K samples z_k ~ q(z|x):

    L_K(x) = log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x),    L_1 = ELBO-estimate <= L_K <= log p(x).
"""

import math

import tensorflow_probability as tfp
from keras import ops

tfd = tfp.distributions


def kl_divergence(posterior, prior, z=None):
    """KL(q || p) per example, analytic when tfp registers the pair, else Monte Carlo.

    The Monte Carlo estimate is mean_l [log q(z_l|x) - log p(z_l)] over the
    leading sample axis of `z`.

    Args:
        posterior: tfd.Distribution q(z|x) with batch shape (batch,).
        prior: tfd.Distribution p(z) with the same event shape.
        z: tensor (L, batch, latent_dim) or None, default None. Draws from q, needed
            only when no closed form exists.

    Returns:
        Tensor of shape (batch,), in nats.

    Example:
    >>> import numpy as np
    >>> q = tfd.Independent(tfd.Normal(np.ones((1, 2), "float32"), 1.0), 1)
    >>> p = tfd.Independent(tfd.Normal(np.zeros(2, "float32"), 1.0), 1)
    >>> float(kl_divergence(q, p)[0])
    1.0
    """
    try:
        return tfd.kl_divergence(posterior, prior)
    except NotImplementedError:
        if z is None:
            raise ValueError(
                f"No closed-form KL between {type(posterior).__name__} and {type(prior).__name__}; "
                "pass samples z from the posterior for a Monte Carlo estimate."
            ) from None
        return ops.mean(posterior.log_prob(z) - prior.log_prob(z), axis=0)


def log_importance_weights(log_likelihood, z, posterior, prior):
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x), shape (K, batch).

    Args:
        log_likelihood: tensor (K, batch), log p(x|z_k).
        z: tensor (K, batch, latent_dim), draws from the posterior.
        posterior: tfd.Distribution q(z|x) with batch shape (batch,).
        prior: tfd.Distribution p(z).
    """
    return log_likelihood + prior.log_prob(z) - posterior.log_prob(z)


def importance_weighted_bound(log_weights, axis=0):
    """log (1/K) sum_k exp(log_weights_k) along `axis`, computed stably with logsumexp.

    Example:
    >>> import numpy as np
    >>> float(importance_weighted_bound(np.log(np.array([[1.0], [3.0]], "float32")))[0])
    0.6931471824645996
    """
    k = ops.shape(log_weights)[axis]
    return ops.logsumexp(log_weights, axis=axis) - ops.log(ops.cast(k, log_weights.dtype))


def bits_per_dim(nll_nats, num_dims):
    """Converts a negative log-likelihood in nats per example to bits per dimension."""
    return nll_nats / (num_dims * math.log(2.0))
