"""Posterior layers: full covariance vs scipy, the IAF's change of variables, saving inside a VAE."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from keras_vae import VAE, MLPDecoder, MLPEncoder
from keras_vae.evaluation import importance_sampled_log_likelihood
from keras_vae.models import build_vae
from keras_vae.posteriors import (
    POSTERIORS,
    DiagonalGaussian,
    FullCovarianceGaussian,
    InverseAutoregressiveFlow,
    diagonal_gaussian,
    get_posterior,
)
from tests.helpers import assert_config_round_trip, assert_vae_round_trip, compiled_binary_vae, random_images

RNG = np.random.default_rng(0)
D = 3


def randomise(layer, scale=0.5, seed=0):
    """Replaces zero-initialised weights by random ones, so the layer is far from the diagonal case."""
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        w.assign(rng.normal(0, scale, size=w.shape).astype("float32"))
    return layer


def encoder_outputs(batch=4):
    return RNG.normal(size=(batch, D)).astype("float32"), RNG.normal(-0.5, 0.3, size=(batch, D)).astype("float32")


def test_full_covariance_log_prob_matches_scipy():
    layer = FullCovarianceGaussian()
    layer.build((None, D))
    randomise(layer)
    z_mean, z_log_var = encoder_outputs()
    scale = np.asarray(layer.scale_tril(z_mean, z_log_var), np.float64)
    np.testing.assert_allclose(np.diagonal(scale, axis1=1, axis2=2), np.exp(0.5 * z_log_var), rtol=1e-6)
    assert np.abs(np.triu(scale, 1)).max() == 0 and np.abs(np.tril(scale, -1)).max() > 0.01
    eps = RNG.normal(size=(5, 4, D)).astype("float32")
    z, log_q = layer.sample_and_log_prob(z_mean, z_log_var, eps)
    q = layer.distribution(z_mean, z_log_var)
    for i in range(4):
        reference = stats.multivariate_normal(z_mean[i], scale[i] @ scale[i].T)
        np.testing.assert_allclose(np.asarray(z)[:, i], z_mean[i] + eps[:, i] @ scale[i].T, atol=1e-5)
        expected = reference.logpdf(np.asarray(z, np.float64)[:, i])
        np.testing.assert_allclose(np.asarray(log_q)[:, i], expected, atol=1e-4)  # float32 triangular solve
        np.testing.assert_allclose(np.asarray(q.log_prob(z))[:, i], expected, atol=1e-4)


def test_full_covariance_starts_as_the_diagonal_posterior():
    layer = FullCovarianceGaussian()
    layer.build((None, D))
    z_mean, z_log_var = encoder_outputs()
    z = RNG.normal(size=(2, 4, D)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(layer.distribution(z_mean, z_log_var).log_prob(z)),
        np.asarray(diagonal_gaussian(z_mean, z_log_var).log_prob(z)),
        atol=1e-5,
    )


def test_iaf_log_prob_is_base_log_prob_minus_brute_force_log_det():
    flow = InverseAutoregressiveFlow(num_flows=2, hidden_units=8)
    flow.build((None, D))
    randomise(flow, scale=0.4)
    z_mean, z_log_var = encoder_outputs(batch=3)
    bijector = flow.bijector(z_mean, z_log_var)
    base = diagonal_gaussian(z_mean, z_log_var)
    z0 = tf.constant(np.asarray(base.sample(seed=(1, 2)), np.float32))
    with tf.GradientTape() as tape:
        tape.watch(z0)
        z = bijector.forward(z0)
    jacobian = np.asarray(tape.batch_jacobian(z, z0), np.float64)  # (batch, D, D)
    # Autoregressive: the Jacobian of each IAF step is triangular; the chain's is a product of them.
    log_det = np.linalg.slogdet(jacobian)[1]
    expected = np.asarray(base.log_prob(z0), np.float64) - log_det
    # distribution().log_prob inverts the flow (D sequential passes per step).
    got = np.asarray(flow.distribution(z_mean, z_log_var).log_prob(tf.identity(z)))
    np.testing.assert_allclose(got, expected, atol=2e-4)  # float32 inversion of a 2-step flow
    # The one-pass draw and log-density give the same z and log q.
    eps = (np.asarray(z0) - z_mean) / np.exp(0.5 * z_log_var)
    z_fast, log_q = flow.sample_and_log_prob(z_mean, z_log_var, eps[None].astype("float32"))
    np.testing.assert_allclose(np.asarray(z_fast)[0], np.asarray(z), atol=1e-5)
    np.testing.assert_allclose(np.asarray(log_q)[0], expected, atol=2e-4)
    assert np.abs(log_det).max() > 0.1  # the flow is not volume preserving here


def test_iaf_is_autoregressive():
    flow = InverseAutoregressiveFlow(num_flows=1, hidden_units=8)
    flow.build((None, D))
    randomise(flow)
    z_mean, z_log_var = encoder_outputs(batch=2)
    z0 = tf.constant(RNG.normal(size=(2, D)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(z0)
        z = flow.bijector(z_mean, z_log_var).forward(z0)
    jacobian = np.asarray(tape.batch_jacobian(z, z0))
    np.testing.assert_array_equal(np.triu(jacobian, 1), 0)  # output i depends on inputs <= i only


def test_a_flow_sized_for_another_latent_size_fails_at_build():
    with pytest.raises(ValueError, match="made for latent_dim 5, but the encoder outputs latent_dim 3"):
        VAE(MLPEncoder(3), MLPDecoder((8,)), posterior=InverseAutoregressiveFlow(latent_dim=5)).build((None, 8))
    flow = InverseAutoregressiveFlow()
    flow.build((None, 4))
    with pytest.raises(ValueError, match="built for latent_dim 4"):
        flow.sample_and_log_prob(*encoder_outputs(), np.zeros((1, 4, D), "float32"))


def test_unknown_posterior_names_the_choices():
    with pytest.raises(ValueError, match=r"\['diagonal', 'full_covariance', 'iaf'\]"):
        get_posterior("planar")


@pytest.mark.parametrize("name", sorted(POSTERIORS))
def test_every_posterior_round_trips_its_config(name):
    assert type(assert_config_round_trip(get_posterior(name))) is POSTERIORS[name]


@pytest.mark.slow(reason="trains models for several epochs")
@pytest.mark.parametrize("posterior", ["full_covariance", "iaf"])
def test_vae_with_a_richer_posterior_trains_evaluates_and_round_trips(posterior, tmp_path):
    model, x = compiled_binary_vae(D, posterior=posterior)
    history = model.fit(x, epochs=3, batch_size=16, verbose=0).history
    assert np.all(np.isfinite(history["loss"])) and history["loss"][-1] < history["loss"][0]
    # The training KL (Monte Carlo at the draws) agrees with the posterior's own log_prob.
    z_mean, z_log_var = model.encode(x[:4])
    eps = np.random.default_rng(1).normal(size=(64, 4, D)).astype("float32")
    z, log_q = model.posterior.sample_and_log_prob(z_mean, z_log_var, eps)
    np.testing.assert_allclose(
        np.asarray(model.posterior_distribution(x[:4]).log_prob(z)), np.asarray(log_q), atol=1e-3
    )
    log_px = importance_sampled_log_likelihood(model, x[:4], num_samples=64)
    assert np.all(np.isfinite(log_px))
    restored = assert_vae_round_trip(model, x[:4], tmp_path)
    assert type(restored.posterior) is type(model.posterior)
    np.testing.assert_allclose(
        importance_sampled_log_likelihood(restored, x[:4], num_samples=64), log_px, atol=1e-3
    )


def test_diagonal_posterior_matches_the_sampling_layer_parameterisation():
    z_mean, z_log_var = encoder_outputs()
    eps = RNG.normal(size=(2, 4, D)).astype("float32")
    z, log_q = DiagonalGaussian().sample_and_log_prob(z_mean, z_log_var, eps)
    np.testing.assert_allclose(np.asarray(z), z_mean + np.exp(0.5 * z_log_var) * eps, rtol=1e-6)
    expected = stats.norm(z_mean, np.exp(0.5 * z_log_var)).logpdf(np.asarray(z, np.float64)).sum(-1)
    np.testing.assert_allclose(np.asarray(log_q), expected, atol=1e-5)


@pytest.mark.slow(reason="a full export: SavedModel, TFLite conversions and checks")
@pytest.mark.parametrize(
    "likelihood, prior, posterior",
    [("continuous_bernoulli", "vamp", "iaf"), ("discretized_logistic", "mixture", "full_covariance")],
)
def test_vae_with_the_new_pieces_exports(likelihood, prior, posterior, tmp_path):
    from keras_vae.export.exporter import export_model

    shape = (8, 8, 1)
    x = np.round(random_images(32, shape) * 255) / 255
    model = build_vae(shape, latent_dim=D, likelihood=likelihood, prior=prior, posterior=posterior, seed=0)
    # The export is under test; training these pieces under XLA is (test above, test_priors, test_likelihoods).
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    report = export_model(model, str(tmp_path / "export"), num_draws=50)
    loaded = tf.saved_model.load(report["saved_model"]["path"])
    images = tf.constant(x[:4])
    np.testing.assert_allclose(
        loaded.signatures["reconstruct"](images=images)["reconstruction"].numpy(),
        np.asarray(model.reconstruct(x[:4])),
        atol=1e-5,
    )
    samples = loaded.signatures["sample"](seed=tf.constant(3), count=tf.constant(4))["images"].numpy()
    np.testing.assert_allclose(samples, np.asarray(model.sample(4, seed=3)), atol=1e-5)  # the model's own prior
    terms = loaded.signatures["elbo"](images=images, seed=tf.constant(0))
    assert np.all(np.isfinite(terms["elbo"].numpy()))
    np.testing.assert_allclose(terms["elbo"].numpy(), terms["reconstruction"].numpy() - terms["kl"].numpy(), rtol=1e-5)
    assert report["tflite"]["float32"]["max_abs_pixel_difference"] < 1e-4
