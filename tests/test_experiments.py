"""The tutorial's experiments (keras_vae.experiments): each claim held by a test, with seeds and tolerances.

The trained-model tests use a budget smaller still than the notebook's fast mode (`TINY`):
they assert the direction of an effect that shows after a few steps, not its size.
"""

import dataclasses
import json

import numpy as np
import pytest
from scipy import ndimage, special, stats

from keras_vae.experiments import FAST, TrainedModels, common, decoder_scale, draws, elbo_gap, estimators
from keras_vae.experiments import representations
from keras_vae.experiments.linear_gaussian import AffineEncoder, LinearDecoder, LinearGaussianModel
from keras_vae.likelihoods import Gaussian
from keras_vae.models import build_vae

from tests.helpers import assert_layer_round_trip

TINY = dataclasses.replace(FAST, num_train=256, num_test=200, hidden_units=(16,), batch_size=64)


@pytest.fixture(scope="module")
def tiny_data(fashion_mnist_data_dir):
    return common.load_fashion_mnist(TINY, fashion_mnist_data_dir)


# 1. Estimators of log p(x) ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_prior_sampling_needs_far_more_samples_than_importance_sampling(seed):
    result = estimators.linear_gaussian_comparison(
        num_images=8, max_prior_samples=2000, max_posterior_samples=1000, seed=seed
    )
    naive = {row["K"]: row for row in result["naive"]}
    importance = {row["K"]: row for row in result["importance"]}
    # The claim: K = 1000 prior draws miss log p(x) by more than K = 100 posterior draws do,
    # here by a factor above 10 (measured: ~9 nats against ~0.07 nats).
    assert naive[1000]["rmse"] > 10 * importance[100]["rmse"]
    # Both estimators are biased low (Jensen), the naive one by nats; IS-100 is within 0.2 nats.
    assert naive[1000]["bias"] < -1.0
    assert abs(importance[100]["bias"]) < 0.2 and importance[100]["rmse"] < 0.2


def test_estimator_terms_match_brute_force_densities():
    model = LinearGaussianModel(data_dim=4, latent_dim=2, noise_scale=0.5, seed=3)
    x = model.sample(3)
    vae = model.vae(*model.perturbed_encoder())
    naive = estimators.prior_log_likelihoods(vae, x, 5, seed=0)
    # log p(x|z) for the prior draws, recomputed with scipy: recover z from the decoder's linearity.
    z = np.asarray(vae.prior_distribution().sample((5, 3), seed=estimators.stateless_seed(0, 0)))
    expected = stats.norm(z @ model.w.T + model.b, model.s).logpdf(x[None]).sum(-1)
    np.testing.assert_allclose(naive, expected, atol=1e-3)
    # The exact posterior as proposal: every importance weight equals p(x) (zero variance).
    weights = estimators.posterior_log_weights(model.vae(), x, 50)
    np.testing.assert_allclose(weights, np.broadcast_to(model.log_marginal(x), (50, 3)), atol=1e-3)


def test_grouped_estimates_are_log_means_of_disjoint_groups():
    terms = np.log(np.random.default_rng(0).uniform(0.1, 2.0, size=(10, 2)))
    groups = estimators.grouped_estimates(terms, 3)
    assert groups.shape == (3, 2)
    np.testing.assert_allclose(groups[1], np.log(np.exp(terms[3:6]).mean(0)))
    with pytest.raises(ValueError, match="needs at least K draws"):
        estimators.grouped_estimates(terms, 11)


def test_linear_gaussian_layers_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    assert_layer_round_trip(AffineEncoder(rng.normal(size=(2, 3)), rng.normal(size=2), [0.1, -0.2]),
                            rng.normal(size=(4, 3)), tmp_path)
    assert_layer_round_trip(LinearDecoder(rng.normal(size=(3, 2)), rng.normal(size=3)), rng.normal(size=(4, 2)),
                            tmp_path)


# 2. The decoder's sigma -----------------------------------------------------------------------------


def test_sharpness_is_the_mean_variance_of_the_laplacian():
    images = np.random.default_rng(0).uniform(size=(3, 9, 7))
    # scipy's 5-point Laplacian, border rows and columns left out as in `sharpness`.
    expected = np.mean([np.var(ndimage.laplace(image)[1:-1, 1:-1]) for image in images])
    assert decoder_scale.sharpness(images) == pytest.approx(expected, rel=1e-12)
    assert decoder_scale.sharpness(ndimage.uniform_filter(images, size=(1, 3, 3))) < decoder_scale.sharpness(images)


def test_kl_falls_as_the_fixed_decoder_sigma_grows(tiny_data):
    # Seed 0 (weights, noise, data order), 4 Adam steps on 256 grey images per sigma.
    rows = decoder_scale.decoder_scale_sweep(
        tiny_data, TrainedModels(TINY), scales=(0.05, 0.3, 1.0), learned=False, seed=0
    )
    kl = [row["kl"] for row in rows]
    # Strictly falling, each step by more than 1 nat (measured: ~25, ~14, ~1.5 nats).
    assert kl[0] > kl[1] + 1 > kl[2] + 2, kl
    assert [row["sigma"] for row in rows] == pytest.approx([0.05, 0.3, 1.0])


# 4. Representations ---------------------------------------------------------------------------------


def test_knn_and_linear_probe_against_independent_references():
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(60, 3)), rng.normal(size=(25, 3))
    train_labels, test_labels = rng.integers(0, 3, 60), rng.integers(0, 3, 25)
    # 1-NN by brute force.
    nearest = np.argmin(((test[:, None] - train[None]) ** 2).sum(-1), axis=1)
    expected = np.mean(train_labels[nearest] == test_labels)
    assert representations.knn_accuracy(train, train_labels, test, test_labels, k=1, batch_size=7) == expected
    # Linearly separable classes: the probe is exact.
    centers = np.array([[4.0, 0, 0], [0, 4.0, 0], [0, 0, 4.0]])
    assert representations.linear_probe_accuracy(
        train + centers[train_labels], train_labels, test + centers[test_labels], test_labels
    ) == 1.0


def test_normality_is_the_kolmogorov_smirnov_distance_per_unit():
    codes = np.random.default_rng(0).normal(1.0, 2.0, size=(300, 2))
    fit = representations.normality(codes)
    for j in range(2):  # sup |F_n - Phi| by hand, at both sides of each jump
        x = np.sort(codes[:, j])
        phi = special.ndtr(x)
        n = len(x)
        expected = max(np.max(np.arange(1, n + 1) / n - phi), np.max(phi - np.arange(n) / n))
        assert fit["ks"][j] == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(fit["mean"], codes.mean(0))


def test_vae_codes_are_closer_to_the_prior_than_autoencoder_codes(tiny_data):
    # Seed 0, the same networks and 4 steps for both; the mean over units of the KS statistic.
    models = TrainedModels(TINY)
    ks = {}
    for kind in ("vae", "ae"):
        model = models.train(kind, tiny_data["train"], 4, seed=0)
        ks[kind] = np.mean(representations.normality(common.in_batches(model.embed, tiny_data["test"]))["ks"])
    # The claim is the order, by 0.05 at least (measured values are in the assertion message).
    assert ks["vae"] < ks["ae"] - 0.05, ks


# 5. The ELBO gap ------------------------------------------------------------------------------------


def test_elbo_gap_is_the_closed_form_posterior_kl_on_the_linear_gaussian_model():
    model = LinearGaussianModel(seed=2)
    x = model.sample(8)
    matrix, log_var = model.perturbed_encoder(scale=0.2, log_var_shift=0.4)
    gaps = elbo_gap.elbo_gaps(model.vae(matrix, log_var), x, num_samples=1000)
    exact = model.posterior_kl(x, matrix, log_var)
    assert np.mean(exact) > 0.3
    # Two Monte Carlo errors: the ELBO's reconstruction term is a mean over 1000 draws (per-draw
    # spread below 1 nat here: 3 standard errors < 0.1 nats), and IS-1000 sits below log p(x) by a
    # bias that grows with the KL (measured: 0.25 nats for the image with a KL of 4.9). Hence
    # 0.1 nats + 10 % of the KL, and log p(x) itself within 0.05 nats + 5 % of the KL.
    np.testing.assert_allclose(gaps["gap"], exact, atol=0.1, rtol=0.1)
    assert np.all(np.abs(gaps["log_px"] - model.log_marginal(x)) < 0.05 + 0.05 * exact)


@pytest.mark.parametrize("posterior", ["diagonal", "full_covariance", "iaf"])
def test_elbo_gap_is_nonnegative_within_monte_carlo_error(posterior):
    model = build_vae((6, 6, 1), latent_dim=2, seed=0, posterior=posterior)
    x = (np.random.default_rng(0).uniform(size=(5, 6, 6, 1)) > 0.5).astype("float32")
    num_samples = 100
    gaps = elbo_gap.elbo_gaps(model, x, num_samples=num_samples)
    # The ELBO's standard error, from the spread of the same draws' log weights.
    weights = estimators.posterior_log_weights(model, x, num_samples)
    standard_error = weights.std(axis=0) / np.sqrt(num_samples)
    assert np.all(gaps["gap"] >= -4 * standard_error), (gaps["gap"], standard_error)


# 6. Draws x ~ p(x|z) --------------------------------------------------------------------------------


def test_bernoulli_draws_are_binary_and_average_to_the_mean():
    model = build_vae((8, 8, 1), latent_dim=2, seed=0)
    z = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    num_draws = 2000
    samples = draws.draw_observations(model, z, num_draws=num_draws, seed=3)
    assert set(np.unique(samples)) == {0.0, 1.0}
    mean = np.asarray(model.decode(z))
    # Binomial standard error sqrt(p (1 - p) / 2000) <= 0.0112: 6 of them over the 256 pixels.
    assert np.max(np.abs(samples.mean(0) - mean)) < 6 * 0.0112
    means, drawn = draws.means_and_draws(model, n=5, seed=7)
    assert set(np.unique(drawn)) <= {0.0, 1.0}
    np.testing.assert_array_equal(means, np.asarray(model.sample(5, seed=7)))  # the same z either way


def test_gaussian_draws_are_the_mean_plus_sigma_noise():
    model = build_vae((8, 8, 1), latent_dim=2, seed=0, likelihood=Gaussian(scale=0.2))
    means, drawn = draws.means_and_draws(model, n=200, seed=1)
    residual = (drawn - means).ravel()
    # 12,800 residuals of N(0, 0.2^2): the sample std within 3 % and a KS test not rejecting.
    assert np.std(residual) == pytest.approx(0.2, rel=0.03)
    assert stats.kstest(residual / 0.2, "norm").pvalue > 0.01


# The command ----------------------------------------------------------------------------------------


def test_experiment_command_writes_results_and_figures(tmp_path, fashion_mnist_data_dir, capsys, monkeypatch):
    from keras_vae.cli import main

    monkeypatch.setattr("keras_vae.experiments.FAST", TINY)  # --fast, smaller still
    out = tmp_path / "experiments"
    assert main(["experiment", "draws", "--fast", "--out", str(out), "--data-dir", str(fashion_mnist_data_dir)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["draws.json", "draws.png"]
    results = json.loads((out / "draws.json").read_text())["results"]
    assert results["bernoulli"]["distinct_values_in_draws"] == 2
    assert results["gaussian"]["distinct_values_in_draws"] > 1000
    (tmp_path / "file").write_text("")
    assert main(["experiment", "draws", "--out", str(tmp_path / "file")]) == 2
    assert "is a file; give a directory" in capsys.readouterr().err
