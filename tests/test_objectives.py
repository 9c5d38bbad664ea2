"""KL divergence and bounds against closed forms."""

import numpy as np
import pytest
import tensorflow_probability as tfp

from keras_vae import Sampling, StandardNormal, objectives
from keras_vae.posteriors import diagonal_gaussian

tfd = tfp.distributions

RNG = np.random.default_rng(0)
MU = RNG.normal(size=(4, 3)).astype("float32")
LOG_VAR = RNG.normal(scale=0.5, size=(4, 3)).astype("float32")


def closed_form_kl(mu, log_var):
    """KL(N(mu, diag(exp(log_var))) || N(0, I)) = -0.5 * sum(1 + logvar - mu^2 - exp(logvar))."""
    return -0.5 * np.sum(1 + log_var - mu**2 - np.exp(log_var), axis=-1)


def test_analytic_kl_equals_closed_form():
    posterior = diagonal_gaussian(MU, LOG_VAR)
    prior = StandardNormal().distribution(3)
    kl = objectives.kl_divergence(posterior, prior).numpy()
    np.testing.assert_allclose(kl, closed_form_kl(MU, LOG_VAR), rtol=1e-5)


def test_monte_carlo_kl_agrees_with_analytic():
    n = 100_000
    posterior = diagonal_gaussian(MU, LOG_VAR)
    prior = StandardNormal().distribution(3)
    z = Sampling(seed=3)([MU, LOG_VAR], num_samples=n)
    log_ratio = (posterior.log_prob(z) - prior.log_prob(z)).numpy()
    estimate = log_ratio.mean(axis=0)
    standard_error = log_ratio.std(axis=0) / np.sqrt(n)
    # Tolerance: 5 standard errors of the Monte Carlo mean.
    np.testing.assert_array_less(np.abs(estimate - closed_form_kl(MU, LOG_VAR)), 5 * standard_error)


def test_monte_carlo_fallback_when_no_closed_form():
    # N(0, I) written as a one-component mixture: same density, no registered KL.
    prior = tfd.MixtureSameFamily(
        tfd.Categorical(logits=np.zeros(1, "float32")),
        tfd.Independent(tfd.Normal(np.zeros((1, 3), "float32"), 1.0), 1),
    )
    posterior = diagonal_gaussian(MU, LOG_VAR)
    with pytest.raises(NotImplementedError):
        tfd.kl_divergence(posterior, prior)
    with pytest.raises(ValueError, match="Monte Carlo"):
        objectives.kl_divergence(posterior, prior)
    z = Sampling(seed=4)([MU, LOG_VAR], num_samples=50_000)
    kl = objectives.kl_divergence(posterior, prior, z).numpy()
    np.testing.assert_allclose(kl, closed_form_kl(MU, LOG_VAR), rtol=0.05, atol=0.02)


def test_importance_weighted_bound_is_log_mean_exp():
    log_w = RNG.normal(size=(7, 5)).astype("float32") * 30  # large spread: needs logsumexp
    expected = np.log(np.mean(np.exp(log_w.astype("float64")), axis=0))
    np.testing.assert_allclose(objectives.importance_weighted_bound(log_w).numpy(), expected, rtol=1e-5)


def test_bits_per_dim():
    assert np.isclose(objectives.bits_per_dim(784 * np.log(2.0), 784), 1.0)
