"""Tests of importance-sampled likelihoods, the IWAE and free-bits objectives and beta schedules.

The oracle is a linear-Gaussian model, p(z) = N(0, I), p(x|z) = N(W z + b, s^2 I),
with orthogonal columns in W, so that the exact posterior is a diagonal Gaussian
(an affine encoder) and log p(x) = log N(x; b, W W^T + s^2 I) is known exactly.
"""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops
from scipy import stats

from keras_vae import objectives
from keras_vae.callbacks import CyclicalBetaSchedule, LinearBetaWarmup, make_beta_schedule
from keras_vae.evaluation import (
    active_units,
    counter_normal,
    evaluate_split,
    importance_sampled_log_likelihood,
)
from keras_vae.experiments.linear_gaussian import AffineEncoder, LinearDecoder
from keras_vae.layers.sampling import Sampling
from keras_vae.likelihoods import Gaussian
from keras_vae.models import build_vae
from keras_vae.models.vae import VAE
from keras_vae.networks.mlp import MLPDecoder, MLPEncoder
from keras_vae.posteriors import diagonal_gaussian

LATENT, DATA, NOISE = 3, 6, 0.5


@pytest.fixture(scope="module")
def oracle():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(DATA, LATENT)))
    weight = q * np.array([2.0, 1.0, 0.5])  # orthogonal columns: W^T W is diagonal
    bias = rng.normal(size=DATA)
    covariance = weight @ weight.T + NOISE**2 * np.eye(DATA)
    x = rng.multivariate_normal(bias, covariance, size=200).astype(np.float32)
    log_px = stats.multivariate_normal(bias, covariance).logpdf(x.astype(np.float64))
    # Exact posterior: precision I + W^T W / s^2 (diagonal), mean Sigma W^T (x - b) / s^2.
    post_var = 1.0 / (1.0 + np.sum(weight**2, axis=0) / NOISE**2)
    post_matrix = (post_var[:, None] * weight.T) / NOISE**2

    def model(matrix_scale=1.0, log_var_shift=0.0, **kwargs):
        vae = VAE(
            AffineEncoder(matrix_scale * post_matrix, -(matrix_scale * post_matrix) @ bias, np.log(post_var) + log_var_shift),
            LinearDecoder(weight, bias),
            likelihood=Gaussian(scale=NOISE),
            **kwargs,
        )
        vae.build((None, DATA))
        return vae

    return {"x": x, "log_px": log_px, "model": model}


# Importance-sampled log-likelihood ------------------------------------------------------


def test_exact_posterior_proposal_gives_exact_log_likelihood(oracle):
    model = oracle["model"]()
    for k in (1, 7):
        estimate = importance_sampled_log_likelihood(model, oracle["x"], num_samples=k, seed=3)
        # Every importance weight equals p(x): exact up to float32 rounding.
        np.testing.assert_allclose(estimate, oracle["log_px"], rtol=1e-4, atol=1e-4)


def test_estimate_rises_towards_log_likelihood_with_k(oracle):
    model = oracle["model"](matrix_scale=0.8, log_var_shift=0.5)  # a mildly wrong encoder
    exact = oracle["log_px"].mean()
    means = {}
    for k in (1, 10, 100, 5000):
        estimate = importance_sampled_log_likelihood(model, oracle["x"], num_samples=k, seed=0)
        means[k] = estimate.mean()
    print({"exact": exact, **means})
    elbo = evaluate_split(model, oracle["x"], num_samples=100)["elbo"]
    # Measured gap of this encoder: log p(x) - ELBO = 0.72 nats; IS-1 averages to the ELBO.
    assert exact - elbo > 0.3
    assert abs(means[1] - elbo) < 0.15
    # The expected bound does not decrease with K (Burda et al. 2016, theorem 1); the
    # averages over 200 examples are far more precise than the steps between them.
    assert means[1] < means[10] < means[100] < means[5000]
    assert means[5000] <= exact + 0.01
    # Within 0.01 nats of log p(x) per example at K = 5000.
    assert exact - means[5000] < 0.01
    # And per example, within 0.1 nats (the largest error measured was 0.06).
    per_example = importance_sampled_log_likelihood(model, oracle["x"], num_samples=5000, seed=1)
    np.testing.assert_allclose(per_example, oracle["log_px"], atol=0.1)


def test_estimate_does_not_depend_on_chunk_or_batch_size(oracle):
    model = oracle["model"](matrix_scale=0.8, log_var_shift=0.5)
    reference = importance_sampled_log_likelihood(model, oracle["x"], num_samples=300, batch_size=200, chunk_size=300)
    for batch_size, chunk_size in ((200, 1), (13, 7), (64, 128), (50, None)):
        estimate = importance_sampled_log_likelihood(
            model, oracle["x"], num_samples=300, batch_size=batch_size, chunk_size=chunk_size
        )
        np.testing.assert_allclose(estimate, reference, rtol=1e-5, atol=1e-5)
    # XLA compiles the same computation.
    compiled = importance_sampled_log_likelihood(
        model, oracle["x"], num_samples=300, batch_size=64, chunk_size=100, jit_compile=True
    )
    np.testing.assert_allclose(compiled, reference, rtol=1e-5, atol=1e-5)
    # Same seed: same numbers; another seed: other draws.
    again = importance_sampled_log_likelihood(model, oracle["x"], num_samples=300, batch_size=200, chunk_size=300)
    np.testing.assert_array_equal(again, reference)
    other = importance_sampled_log_likelihood(model, oracle["x"], num_samples=300, seed=1)
    assert np.abs(other - reference).max() > 1e-4


def test_counter_noise_is_standard_normal_and_slice_invariant():
    eps = counter_normal(7, tf.range(50), tf.range(400), 40).numpy()
    assert eps.shape == (400, 50, 40)
    assert stats.kstest(eps.ravel(), "norm").pvalue > 1e-3
    assert abs(np.corrcoef(eps[:, :, 0].ravel(), eps[:, :, 1].ravel())[0, 1]) < 0.01
    part = counter_normal(7, tf.range(10, 20), tf.range(100, 130), 40).numpy()
    np.testing.assert_array_equal(part, eps[100:130, 10:20])


def test_evaluate_split_and_active_units(oracle):
    model = oracle["model"](matrix_scale=0.8, log_var_shift=0.5)
    result = evaluate_split(model, oracle["x"], num_samples=50, batch_size=64)
    estimate = importance_sampled_log_likelihood(model, oracle["x"], num_samples=50)
    assert result["num_examples"] == 200
    assert result["nll"] == pytest.approx(-estimate.mean(), rel=1e-6)
    assert result["bits_per_dim"] == pytest.approx(result["nll"] / (DATA * math.log(2)))
    assert result["elbo"] == pytest.approx(result["reconstruction"] - result["kl"])
    assert result["elbo"] <= -result["nll"]
    assert result["active_units"] == LATENT
    # A dimension whose posterior mean ignores x is inactive.
    collapsed = VAE(
        AffineEncoder(np.diag([1.0, 1.0, 0.0]) @ (0.5 * np.ones((LATENT, DATA))), np.zeros(LATENT), np.zeros(LATENT)),
        LinearDecoder(np.ones((DATA, LATENT)), np.zeros(DATA)),
        likelihood=Gaussian(scale=1.0),
    )
    collapsed.build((None, DATA))
    assert active_units(collapsed, oracle["x"]) == 2


# IWAE objective ----------------------------------------------------------------------------


def test_iwae_bound_with_one_sample_is_the_elbo_estimate(oracle):
    """L_1 with the same draw equals log p(x|z) - (log q(z|x) - log p(z)), the single-sample ELBO."""
    model = oracle["model"](matrix_scale=0.8, log_var_shift=0.5, objective="iwae", num_samples=1, seed=5)
    x = tf.constant(oracle["x"])
    loss, _, _ = model.objective_terms(x)
    z_mean, z_log_var = model.encoder(x)
    z = Sampling(seed=5)([z_mean, z_log_var], num_samples=1)  # the same first draw as the model's
    posterior = diagonal_gaussian(z_mean, z_log_var)
    prior = model.prior.distribution(LATENT)
    elbo_estimate = model.log_likelihood(x, z)[0] - (posterior.log_prob(z[0]) - prior.log_prob(z[0]))
    np.testing.assert_allclose(float(loss), -float(ops.mean(elbo_estimate)), rtol=1e-5)
    terms = model.bound_terms(x, Sampling(seed=5).noise((1, x.shape[0], LATENT)))
    log_weights = objectives.log_importance_weights(terms)
    np.testing.assert_allclose(objectives.importance_weighted_bound(log_weights), elbo_estimate, rtol=1e-5)


def test_expected_iwae_training_bound_is_non_decreasing_in_k(oracle):
    x = tf.constant(np.tile(oracle["x"], (10, 1)))  # 2,000 examples
    bounds = []
    for k in (1, 4, 32):
        model = oracle["model"](matrix_scale=0.8, log_var_shift=0.5, objective="iwae", num_samples=k, seed=0)
        loss, reconstruction, kl = model.objective_terms(x)
        bounds.append(-float(loss))
    exact = oracle["log_px"].mean()
    assert bounds[0] < bounds[1] < bounds[2] <= exact + 0.02
    # The ELBO metrics stay the ELBO's terms: reconstruction - kl is below the bound.
    assert float(ops.mean(reconstruction - kl)) < bounds[2]


# Options of the VAE --------------------------------------------------------------------


def _small_vae(**kwargs):
    return VAE(MLPEncoder(4, hidden_units=(32,)), MLPDecoder((8, 8, 1), hidden_units=(32,)), seed=0, **kwargs)


@pytest.fixture(scope="module")
def tiny_images():
    return (np.random.default_rng(1).random((128, 8, 8, 1)) < 0.3).astype("float32")


def test_default_objective_is_elbo():
    model = build_vae((28, 28, 1))
    assert model.objective == "elbo" and model.free_bits == 0.0
    assert model.get_config()["objective"] == "elbo"


def test_invalid_options_raise_clear_errors():
    with pytest.raises(ValueError, match=r"choose one of \['elbo', 'iwae', 'tcvae'\]"):
        _small_vae(objective="vimco")
    with pytest.raises(ValueError, match="beta"):
        _small_vae(objective="iwae", beta=0.5)
    with pytest.raises(ValueError, match="free_bits"):
        _small_vae(free_bits=-1.0)
    with pytest.raises(ValueError, match="beta schedule"):
        make_beta_schedule("exponential")


@pytest.mark.slow(reason="trains models for several epochs")
def test_beta_schedule_changes_beta_inside_the_compiled_step(tiny_images):
    model = _small_vae()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    history = model.fit(tiny_images, epochs=3, batch_size=32, verbose=0, callbacks=[LinearBetaWarmup(2)])
    h = history.history
    assert h["beta"] == [0.0, 0.5, 1.0]
    for epoch, beta in enumerate(h["beta"]):
        # Equal batches, so the epoch means of loss, reconstruction and kl are consistent.
        expected = -h["reconstruction"][epoch] + beta * h["kl"][epoch]
        assert h["loss"][epoch] == pytest.approx(expected, rel=1e-4)
    assert h["kl"][0] > 0.1  # so that beta = 0 and beta = 1 give different losses


def test_cyclical_schedule_per_step(tiny_images):
    schedule = CyclicalBetaSchedule(2, ratio=0.5, per_step=True)
    assert [schedule.beta_at(t) for t in (0, 0.5, 1, 1.5, 2)] == [0.0, 0.5, 1.0, 1.0, 0.0]
    model = _small_vae()
    model.compile(optimizer="adam", jit_compile=True)
    history = model.fit(tiny_images, epochs=2, batch_size=32, verbose=0, callbacks=[schedule])
    # The 4 steps of epoch 0 see beta 0, 0.25, 0.5, 0.75; the last step of each epoch is logged.
    assert history.history["beta"] == [0.75, 1.0]


def test_free_bits_floor_the_kl_term_of_the_loss(tiny_images):
    floor = 50.0  # far above any dimension's KL, so the KL term is the constant latent_dim * floor
    model = _small_vae(free_bits=floor)
    model.compile(optimizer="adam", jit_compile=True)
    h = model.fit(tiny_images, epochs=2, batch_size=32, verbose=0).history
    for epoch in range(2):
        assert h["loss"][epoch] == pytest.approx(-h["reconstruction"][epoch] + 4 * floor, rel=1e-4)
        assert h["kl"][epoch] < 4 * floor  # the metric is the true, unclamped KL
        assert h["elbo"][epoch] == pytest.approx(h["reconstruction"][epoch] - h["kl"][epoch], rel=1e-4)


@pytest.mark.slow(reason="trains models for several epochs")
@pytest.mark.parametrize("options", [{"objective": "iwae", "num_samples": 5}, {"free_bits": 0.25}])
def test_options_train_and_round_trip_through_keras_file(options, tiny_images, tmp_path):
    model = _small_vae(**options)
    model.compile(optimizer="adam", jit_compile=True)
    h = model.fit(tiny_images, epochs=2, batch_size=32, verbose=0).history
    assert np.all(np.isfinite(h["loss"])) and h["loss"][-1] < h["loss"][0]
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    for key, value in options.items():
        assert getattr(loaded, key) == value
    np.testing.assert_allclose(loaded.reconstruct(tiny_images[:4]), model.reconstruct(tiny_images[:4]), atol=1e-6)
    a = importance_sampled_log_likelihood(model, tiny_images[:16], num_samples=20)
    b = importance_sampled_log_likelihood(loaded, tiny_images[:16], num_samples=20)
    np.testing.assert_allclose(a, b, rtol=1e-5)
    loaded.compile(optimizer="adam")
    assert np.isfinite(loaded.fit(tiny_images, epochs=1, batch_size=32, verbose=0).history["loss"][0])


# Command line ------------------------------------------------------------------------------


@pytest.mark.slow(reason="trains through the command line")
def test_cli_trains_with_options_and_evaluates(tmp_path, capsys):
    from keras_vae.cli import main

    data = tmp_path / "images.npy"
    np.save(data, np.random.default_rng(0).random((200, 8, 8, 1)).astype("float32"))
    run = tmp_path / "run"
    code = main(
        ["train", "--data", str(data), "--epochs", "2", "--latent-dim", "2", "--batch-size", "50",
         "--beta-schedule", "cyclical", "--warmup-epochs", "1", "--free-bits", "0.1", "--out", str(run)]
    )
    assert code == 0
    settings = json.loads((run / "metrics.json").read_text())["settings"]
    assert settings["beta_schedule"] == "cyclical" and settings["free_bits"] == 0.1
    assert main(["evaluate", str(run), "--importance-samples", "20", "--max-examples", "15"]) == 0
    result = json.loads((run / "evaluation.json").read_text())
    assert result["num_examples"] == 15 and result["num_samples"] == 20
    assert result["nll"] > 0 and -result["nll"] >= result["elbo"] - 1.0
    assert main(["train", "--data", str(data), "--objective", "iwae", "--beta", "0.5", "--out", str(tmp_path / "r2")]) == 2
    assert "beta 1" in capsys.readouterr().err
