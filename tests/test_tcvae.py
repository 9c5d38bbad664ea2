"""beta-TCVAE (Chen et al. 2018): the KL split, checked by brute force, its identities, the objective in a VAE."""

import keras
import numpy as np
import pytest
import tensorflow_probability as tfp
from scipy import special, stats

from keras_vae import objectives
from keras_vae.models.builder import build_model

tfd = tfp.distributions


def _diagonal_terms(mu, log_var, eps):
    """BoundTerms of a diagonal Gaussian q against N(0, I), at z = mu + sigma * eps (no likelihood)."""
    q = tfd.Independent(tfd.Normal(mu, np.exp(0.5 * log_var)), 1)
    p = tfd.Independent(tfd.Normal(np.zeros(mu.shape[1], mu.dtype), 1.0), 1)
    z = (mu + np.exp(0.5 * log_var) * eps).astype(mu.dtype)
    return objectives.BoundTerms(None, p.log_prob(z), q.log_prob(z), tfd.kl_divergence(q, p), z, q, p)


def _brute_force(mu, log_var, z, n):
    """MI, TC and dimension-wise KL per example by loops over draws, examples and dimensions (scipy)."""
    num_draws, m, d = z.shape
    sd = np.exp(0.5 * log_var)
    out = np.zeros((3, num_draws, m))
    for l in range(num_draws):
        for i in range(m):
            table = np.array([[stats.norm.logpdf(z[l, i, k], mu[j, k], sd[j, k]) for k in range(d)] for j in range(m)])
            log_qzx = table[i].sum()
            log_qz = special.logsumexp(table.sum(axis=1)) - np.log(n * m)
            log_prod = sum(special.logsumexp(table[:, k]) - np.log(n * m) for k in range(d))
            log_pz = stats.norm.logpdf(z[l, i]).sum()
            out[:, l, i] = (log_qzx - log_qz, log_qz - log_prod, log_prod - log_pz)
    return out.mean(axis=1)


def test_split_matches_brute_force_and_telescopes_to_the_monte_carlo_kl():
    rng = np.random.default_rng(0)
    m, d, num_draws, n = 6, 3, 2, 1000
    mu = rng.normal(size=(m, d)).astype("float64")
    log_var = rng.normal(scale=0.5, size=(m, d)).astype("float64")
    terms = _diagonal_terms(mu, log_var, rng.normal(size=(num_draws, m, d)))
    split = objectives.total_correlation_terms(terms, dataset_size=n)
    expected = _brute_force(mu, log_var, np.asarray(terms.z), n)
    # float64 throughout: agreement to rounding.
    np.testing.assert_allclose(np.stack([np.asarray(t) for t in split]), expected, rtol=1e-9, atol=1e-9)
    # Chen et al.'s identity: MI + TC + dimension-wise KL = mean_l [log q(z_l|x) - log p(z_l)].
    mc_kl = np.mean(np.asarray(terms.log_posterior) - np.asarray(terms.log_prior), axis=0)
    np.testing.assert_allclose(np.asarray(sum(split)), mc_kl, rtol=0, atol=1e-9)


def test_split_sums_to_the_analytic_kl_in_expectation():
    # Unit weights make beta-TCVAE's regulariser the ELBO's KL in expectation: with L draws the
    # mean of MI + TC + DKL is within 4 standard errors of KL(q || p) for each example.
    rng = np.random.default_rng(1)
    m, d, num_draws = 4, 2, 4000
    mu = rng.normal(size=(m, d)).astype("float32")
    log_var = rng.normal(scale=0.5, size=(m, d)).astype("float32")
    terms = _diagonal_terms(mu, log_var, rng.normal(size=(num_draws, m, d)).astype("float32"))
    split = objectives.total_correlation_terms(terms, dataset_size=100)
    per_draw = np.asarray(terms.log_posterior) - np.asarray(terms.log_prior)
    error = per_draw.std(axis=0) / np.sqrt(num_draws)
    assert np.all(np.abs(np.asarray(sum(split)) - np.asarray(terms.analytic_kl)) < 4 * error)
    # A factorised q(z) of one example repeated has no total correlation left to find but the
    # estimator's bias: with M copies of one posterior, TC is log q(z) - sum_d log q(z_d) =
    # (D - 1) log(N), exactly, because every logsumexp over copies adds log M.
    same = _diagonal_terms(np.repeat(mu[:1], 5, 0), np.repeat(log_var[:1], 5, 0), rng.normal(size=(3, 5, d)))
    tc = np.asarray(objectives.total_correlation_terms(same, dataset_size=100).total_correlation)
    np.testing.assert_allclose(tc, (d - 1) * np.log(100.0), rtol=1e-5)


def _tcvae(tc_weight=1.0, **options):
    return build_model(
        "vae", (6, 6, 1), latent_dim=3, seed=0, objective="tcvae", tc_weight=tc_weight, dataset_size=50, **options
    )


def test_tcvae_objective_trains_reports_its_terms_and_round_trips(tmp_path):
    x = (np.random.default_rng(2).uniform(size=(50, 6, 6, 1)) > 0.5).astype("float32")
    model = _tcvae(tc_weight=4.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(x, epochs=1, batch_size=25, verbose=0).history
    assert set(history) == {"loss", "elbo", "reconstruction", "kl", "mutual_information", "total_correlation",
                            "dimension_kl"}
    loss, terms = model.loss_terms(x, None)
    # The loss is the weighted split; the ELBO metrics are the plain ones.
    expected = -np.mean(terms["reconstruction"]) + np.mean(
        terms["mutual_information"] + 4.0 * terms["total_correlation"] + terms["dimension_kl"]
    )
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    np.testing.assert_allclose(terms["elbo"], terms["reconstruction"] - terms["kl"], rtol=1e-6)
    path = tmp_path / "tcvae.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert (loaded.objective, loaded.tc_weight, loaded.dataset_size) == ("tcvae", 4.0, 50)
    assert [m.name for m in loaded.metrics][-3:] == ["mutual_information", "total_correlation", "dimension_kl"]
    np.testing.assert_allclose(loaded.predict(x[:4], verbose=0), model.predict(x[:4], verbose=0), atol=1e-6)


def test_tcvae_refuses_what_it_cannot_use():
    with pytest.raises(ValueError, match="dataset_size"):
        build_model("vae", (6, 6, 1), latent_dim=2, objective="tcvae")
    with pytest.raises(ValueError, match="tc_weight"):
        _tcvae(beta=4.0)
    model = _tcvae(posterior="full_covariance")
    with pytest.raises(ValueError, match="posterior='diagonal'"):
        model.loss_terms(np.zeros((4, 6, 6, 1), "float32"), None)
    from keras_vae.settings import TrainSettings

    with pytest.raises(ValueError, match="--tc-weight"):
        TrainSettings(objective="tcvae", beta=4.0).check()
