"""The ELBO against a model with an exact likelihood: the linear-Gaussian decoder."""

import numpy as np

from keras_vae import objectives

from tests.helpers import LinearGaussianOracle


def test_log_weights_equal_log_likelihood_with_the_exact_posterior():
    oracle = LinearGaussianOracle()
    x = oracle.sample(64)
    model = oracle.vae()
    eps = np.random.default_rng(0).standard_normal((8, 64, 2)).astype("float32")
    log_w = objectives.log_importance_weights(model.bound_terms(x, eps))
    # With q = p(z|x), log p(x, z) - log q(z|x) = log p(x) for every draw z.
    np.testing.assert_allclose(log_w.numpy(), np.broadcast_to(oracle.log_marginal(x), (8, 64)), atol=2e-4, rtol=0)


def test_elbo_equals_log_likelihood_with_the_exact_posterior():
    oracle = LinearGaussianOracle()
    x = oracle.sample(16)
    reconstruction, kl = oracle.vae().elbo_terms(x, num_samples=20_000)
    # The analytic KL is exact; the reconstruction term is a Monte Carlo mean whose
    # per-draw spread is below 3 nats here: 5 standard errors < 0.11 nats.
    np.testing.assert_allclose((reconstruction - kl).numpy(), oracle.log_marginal(x), atol=0.11, rtol=0)


def test_elbo_is_below_log_likelihood_by_the_posterior_kl():
    oracle = LinearGaussianOracle(seed=1)
    x = oracle.sample(16)
    rng = np.random.default_rng(2)
    matrix = oracle.encoder_matrix + 0.3 * rng.normal(size=oracle.encoder_matrix.shape)
    log_var = np.log(np.diag(oracle.posterior_cov)) + np.array([0.8, -0.6])
    model = oracle.vae(matrix=matrix, log_var=log_var)
    num_samples = 20_000
    reconstruction, kl = model.elbo_terms(x, num_samples=num_samples)
    elbo = (reconstruction - kl).numpy()

    # Independent closed form: ELBO = log p(x) - KL(q(z|x) || p(z|x)), both diagonal Gaussians.
    q_mean = (x - oracle.b) @ matrix.T
    q_var = np.exp(log_var)
    p_mean, p_var = oracle.exact_posterior(x)
    gap = 0.5 * np.sum(np.log(p_var / q_var) + (q_var + (q_mean - p_mean) ** 2) / p_var - 1, axis=-1)
    expected = oracle.log_marginal(x) - gap
    assert np.all(gap > 0.05)
    assert np.all(elbo < oracle.log_marginal(x))
    # Monte Carlo tolerance: the reconstruction term's per-draw spread here is below
    # 10 nats, so 5 standard errors over 20,000 draws are below 0.35 nats.
    np.testing.assert_allclose(elbo, expected, atol=0.35, rtol=0)
