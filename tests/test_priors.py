"""Learned priors: normalisation, Monte Carlo KL, sampling, and saving inside a VAE."""

import numpy as np
import pytest
from scipy import integrate

from keras_vae import objectives
from keras_vae.networks.mlp import MLPEncoder
from keras_vae.posteriors import diagonal_gaussian
from keras_vae.priors import PRIORS, MixtureOfGaussians, StandardNormal, VampPrior, get_prior
from tests.helpers import assert_config_round_trip, assert_vae_round_trip, compiled_binary_vae


def mixture(latent_dim, num_components=4, seed=0):
    prior = MixtureOfGaussians(num_components=num_components, seed=seed)
    prior.build((None, latent_dim))
    rng = np.random.default_rng(seed)  # uneven weights and scales, not the initial ones
    prior.logits.assign(rng.normal(size=num_components).astype("float32"))
    prior.raw_scales.assign(rng.normal(-0.5, 0.3, size=(num_components, latent_dim)).astype("float32"))
    return prior


def vamp(latent_dim, data_dim=5, num_pseudo_inputs=6):
    encoder = MLPEncoder(latent_dim=latent_dim, hidden_units=(16,))
    encoder.build((None, data_dim))
    prior = VampPrior(num_pseudo_inputs=num_pseudo_inputs, seed=1)
    prior.build((None, latent_dim), data_shape=(data_dim,))
    return prior, encoder


def densities(latent_dim):
    prior, encoder = vamp(latent_dim)
    return {
        "mixture": mixture(latent_dim).distribution(latent_dim, "float64"),
        "vamp": prior.distribution(latent_dim, "float32", encoder=encoder),
    }


@pytest.mark.parametrize("name", ["mixture", "vamp"])
def test_log_prob_integrates_to_one_in_1d(name):
    p = densities(1)[name]
    dtype = p.dtype

    def density(z):
        return float(np.exp(p.log_prob(np.array([[z]], dtype.as_numpy_dtype))[0]))

    total, error = integrate.quad(density, -30, 30, limit=200, points=[-3, 0, 3])
    np.testing.assert_allclose(total, 1.0, atol=1e-4)  # quad error ~1e-8, float32 density 1e-6


@pytest.mark.parametrize("name", ["mixture", "vamp"])
def test_log_prob_integrates_to_one_in_2d(name):
    p = densities(2)[name]
    grid = np.linspace(-12, 12, 601)
    zz = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    density = np.exp(np.asarray(p.log_prob(zz.astype(p.dtype.as_numpy_dtype)), np.float64))
    total = density.sum() * (grid[1] - grid[0]) ** 2
    np.testing.assert_allclose(total, 1.0, atol=2e-3)  # 0.04 grid on scales >= 0.3: Riemann error < 1e-3


@pytest.mark.parametrize("name", ["mixture", "vamp"])
def test_monte_carlo_kl_is_unbiased(name):
    p = densities(2)[name]
    dtype = p.dtype.as_numpy_dtype
    mean, log_var = np.array([[0.3, -0.4]], dtype), np.array([[-0.5, 0.2]], dtype)
    q = diagonal_gaussian(mean, log_var)
    # Reference: 400,000 draws (SE ~ 1e-3 nats).
    reference = float(np.asarray(objectives.kl_divergence(q, p, q.sample(400_000, seed=(1, 2))))[0])
    # 2,000 independent small-sample estimates (L = 4 draws each): one batch of 2,000 copies of q.
    copies = diagonal_gaussian(np.repeat(mean, 2_000, 0), np.repeat(log_var, 2_000, 0))
    estimates = np.asarray(objectives.kl_divergence(copies, p, copies.sample(4, seed=(3, 4))), np.float64)
    assert estimates.shape == (2_000,)
    se = estimates.std() / np.sqrt(len(estimates))
    # Unbiased: the mean of the estimates is within 4 standard errors (+ the reference's own ~3e-3).
    assert abs(estimates.mean() - reference) < 4 * se + 3e-3, (estimates.mean(), reference, se)
    assert reference > 0


def test_mixture_samples_match_its_moments():
    prior = mixture(2)
    p = prior.distribution(2, "float64")
    z = np.asarray(p.sample(50_000, seed=(5, 6)))
    weights = np.exp(prior.logits.numpy()) / np.exp(prior.logits.numpy()).sum()
    mean = weights @ prior.means.numpy()
    se = z.std(axis=0) / np.sqrt(len(z))
    np.testing.assert_array_less(np.abs(z.mean(axis=0) - mean), 4 * se)  # 4 standard errors
    np.testing.assert_allclose(np.asarray(p.mean()), mean, rtol=1e-5)


def test_vamp_samples_match_its_mean():
    prior, encoder = vamp(2)
    p = prior.distribution(2, encoder=encoder)
    z = np.asarray(p.sample(50_000, seed=(7, 8)))
    z_mean, _ = encoder(prior.pseudo_inputs())
    se = z.std(axis=0) / np.sqrt(len(z))
    np.testing.assert_array_less(np.abs(z.mean(axis=0) - np.asarray(z_mean).mean(axis=0)), 4 * se)
    pseudo = np.asarray(prior.pseudo_inputs())
    assert pseudo.min() > 0 and pseudo.max() < 1  # sigmoid: in the data range


def test_vamp_prior_needs_the_encoder():
    prior, _ = vamp(2)
    with pytest.raises(ValueError, match="encoder"):
        prior.distribution(2)
    with pytest.raises(ValueError, match="data shape"):
        VampPrior().build((None, 2))


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_every_prior_round_trips_its_config(name):
    assert type(assert_config_round_trip(get_prior(name))) is PRIORS[name]


@pytest.mark.slow(reason="trains models for several epochs")
@pytest.mark.parametrize("prior", ["mixture", "vamp"])
def test_vae_with_a_learned_prior_trains_samples_and_round_trips(prior, tmp_path):
    model, x = compiled_binary_vae(3, prior=prior)
    before = [w.numpy().copy() for w in model.prior.trainable_weights]
    history = model.fit(x, epochs=2, batch_size=16, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, model.prior.trainable_weights))  # learned
    a, b = np.asarray(model.sample(4, seed=3)), np.asarray(model.sample(4, seed=3))
    np.testing.assert_array_equal(a, b)
    restored = assert_vae_round_trip(model, x[:4], tmp_path)
    assert type(restored.prior) is type(model.prior)
    z = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(restored.prior_distribution().log_prob(z)), np.asarray(model.prior_distribution().log_prob(z)), atol=1e-5
    )
    np.testing.assert_allclose(np.asarray(restored.sample(4, seed=3)), a, atol=1e-6)


def test_standard_normal_ignores_the_encoder_argument():
    encoder = MLPEncoder(latent_dim=2)
    encoder.build((None, 4))
    z = np.array([[0.0, 0.0], [1.0, -2.0]], "float32")
    with_encoder = StandardNormal().distribution(2, encoder=encoder)
    without = StandardNormal().distribution(2)
    np.testing.assert_allclose(np.asarray(with_encoder.log_prob(z)), np.asarray(without.log_prob(z)), rtol=0)
    np.testing.assert_allclose(float(with_encoder.log_prob(z[0])), -np.log(2 * np.pi), rtol=1e-6)
