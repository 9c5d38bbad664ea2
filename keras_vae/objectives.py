"""Variational objectives as plain functions of distributions and samples.

Training, evaluation and the tests share these, so the ELBO has one definition:

    ELBO(x) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x)

and the importance-weighted bound of Burda et al. (2016) with K samples z_k ~ q(z|x):

    L_K(x) = log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x),    L_1 = ELBO-estimate <= L_K <= log p(x).
"""

import math
from typing import NamedTuple

import tensorflow_probability as tfp
from keras import ops

tfd = tfp.distributions


class BoundTerms(NamedTuple):
    """The pieces of every bound on log p(x), at L latent draws z_l ~ q(z|x) per input.

    A model with a bound (`GenerativeModel.can(BOUND)`) returns these from
    `bound_terms(x, eps)`, with the noise eps chosen by the caller (the `Sampling`
    layer in training, counter-based noise in evaluation, stateless noise in export).
    `elbo_terms`, `log_importance_weights` and `importance_weighted_bound` below turn
    them into the ELBO and the IWAE bound, for every model kind alike.

    Fields:
        log_likelihood: (L, batch), log p(x|z_l).
        log_prior: (L, batch), log p(z_l).
        log_posterior: (L, batch), log q(z_l|x).
        analytic_kl: (batch,) KL(q(z|x) || p(z)) in closed form, or None where tfp has none.
        z: (L, batch, latent_dim), the draws.
        posterior: tfd.Distribution q(z|x), batch shape (batch,).
        prior: tfd.Distribution p(z).
    """

    log_likelihood: object
    log_prior: object
    log_posterior: object
    analytic_kl: object
    z: object
    posterior: object
    prior: object


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


def analytic_kl(posterior, prior):
    """KL(q || p) per example in closed form, or None when tfp registers no closed form for the pair."""
    try:
        return tfd.kl_divergence(posterior, prior)
    except NotImplementedError:
        return None


def elbo_terms(terms):
    """Returns per-example `(reconstruction, kl)` in nats from `BoundTerms`, each of shape (batch,).

        reconstruction = (1/L) sum_l log p(x|z_l)
        kl             = KL(q(z|x) || p(z)) analytic where tfp has it, else
                         (1/L) sum_l [log q(z_l|x) - log p(z_l)]

    ELBO(x) = reconstruction - kl.
    """
    reconstruction = ops.mean(terms.log_likelihood, axis=0)
    kl = terms.analytic_kl
    if kl is None:
        kl = ops.mean(terms.log_posterior - terms.log_prior, axis=0)
    return reconstruction, kl


def log_importance_weights(terms):
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x), shape (K, batch), from `BoundTerms`.

    Example:
    >>> import numpy as np
    >>> terms = BoundTerms(np.array([[-1.0]]), np.array([[-2.0]]), np.array([[-0.5]]), None, None, None, None)
    >>> float(log_importance_weights(terms)[0, 0])
    -2.5
    """
    return terms.log_likelihood + terms.log_prior - terms.log_posterior


def per_dimension_kl(terms):
    """KL(q_d || p_d) per latent dimension, shape (batch, latent_dim), for factorised q and p.

    Analytic where tfp registers the pair of one-dimensional distributions (the diagonal
    Gaussian against N(0, I)), else the Monte Carlo mean over the draws z_l of
    log q_d(z_d) - log p_d(z_d) (`kl_divergence` on the factors). Free bits need it.
    """
    posterior, prior = terms.posterior, terms.prior
    if not (isinstance(posterior, tfd.Independent) and isinstance(prior, tfd.Independent)):
        raise ValueError(
            "free_bits needs a per-dimension KL, so a posterior and prior that factorise over latent "
            f"dimensions (tfd.Independent); got {type(posterior).__name__} and {type(prior).__name__}."
        )
    return kl_divergence(posterior.distribution, prior.distribution, terms.z)


class TotalCorrelationTerms(NamedTuple):
    """The KL term split three ways (Chen et al. 2018), each per example (batch,) in nats.

    Fields:
        mutual_information: index-code mutual information, log q(z|x) - log q(z).
        total_correlation: log q(z) - sum_d log q(z_d).
        dimension_kl: dimension-wise KL, sum_d log q(z_d) - log p(z).
    """

    mutual_information: object
    total_correlation: object
    dimension_kl: object


def total_correlation_terms(terms, dataset_size):
    """Splits the Monte Carlo KL of `BoundTerms` into MI, total correlation and dimension-wise KL.

    Chen et al. (2018), "Isolating Sources of Disentanglement in VAEs", with their
    minibatch-weighted sampling (MWS) estimator of the aggregate posterior q(z) =
    (1/N) sum_n q(z|x_n) over a dataset of N examples, from a batch of M:

        log q(z_i)   ~ logsumexp_j log q(z_i|x_j)   - log(N M)
        log q(z_id)  ~ logsumexp_j log q(z_id|x_j)  - log(N M)       (per latent dimension d)

        MI_i  = log q(z_i|x_i) - log q(z_i)
        TC_i  = log q(z_i)     - sum_d log q(z_id)
        DKL_i = sum_d log q(z_id) - log p(z_i)

    each averaged over the L draws z_l. The three telescope:
    MI + TC + DKL = (1/L) sum_l [log q(z_l|x) - log p(z_l)], the Monte Carlo KL, whose
    expectation is KL(q(z|x) || p(z)); so with unit weights the beta-TCVAE loss is
    the ELBO's in expectation. The estimator of each term alone is biased (it is
    consistent in M).

    Args:
        terms: `BoundTerms` whose posterior factorises over latent dimensions
            (`tfd.Independent` of a batch (batch, latent_dim) of one-dimensional
            distributions: the diagonal Gaussian).
        dataset_size: int or float, N, the number of training examples.

    Returns:
        `TotalCorrelationTerms` of per-example tensors (batch,).

    Example:
    >>> import numpy as np
    >>> q = tfd.Independent(tfd.Normal(np.zeros((2, 3), "float32"), 1.0), 1)
    >>> p = tfd.Independent(tfd.Normal(np.zeros(3, "float32"), 1.0), 1)
    >>> z = np.random.default_rng(0).normal(size=(1, 2, 3)).astype("float32")
    >>> t = BoundTerms(None, p.log_prob(z), q.log_prob(z), None, z, q, p)
    >>> parts = total_correlation_terms(t, dataset_size=2)
    >>> float(abs(sum(parts)[0] - (t.log_posterior - t.log_prior)[0, 0])) < 1e-5
    True
    """
    posterior = terms.posterior
    if not isinstance(posterior, tfd.Independent):
        raise ValueError(
            "The total-correlation split needs a posterior that factorises over latent dimensions (the diagonal "
            f"Gaussian); got {type(posterior).__name__}. Use posterior='diagonal' with objective='tcvae'."
        )
    if not float(dataset_size) >= 1:
        raise ValueError(f"dataset_size must be the number of training examples (>= 1), got {dataset_size!r}.")
    z = terms.z  # (L, M, D)
    # log q(z_{l,i,d} | x_j): the (M, D) batch of one-dimensional factors at every z_i, (L, M_i, M_j, D).
    log_q_dims = posterior.distribution.log_prob(ops.expand_dims(z, 2))
    batch = ops.cast(ops.shape(z)[1], log_q_dims.dtype)
    log_nm = ops.log(batch * ops.cast(dataset_size, log_q_dims.dtype))
    log_qz = ops.logsumexp(ops.sum(log_q_dims, axis=-1), axis=2) - log_nm  # (L, M)
    log_prod_qzd = ops.sum(ops.logsumexp(log_q_dims, axis=2) - log_nm, axis=-1)  # (L, M)
    return TotalCorrelationTerms(
        mutual_information=ops.mean(terms.log_posterior - log_qz, axis=0),
        total_correlation=ops.mean(log_qz - log_prod_qzd, axis=0),
        dimension_kl=ops.mean(log_prod_qzd - terms.log_prior, axis=0),
    )


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
