"""Disentanglement metrics on representations whose answer is known.

The factor dataset is the grid of 4 x 4 x 5 x 6 factor values itself (observations are the factor
indices), so the representations below are exact functions of the factors:

- `true`: the factors, permuted and each rescaled by a different monotone map (exp, affine with a
  negative slope, cube, small slope): every metric at or near its maximum;
- `mixed`: factors 0 and 1 summed into one unit (the others kept, a noise unit added): in between;
- `noise`: standard normal codes independent of the factors: at or near the minimum (chance,
  1/K = 0.25, for the two classifier scores).

Tolerances: maxima within 0.05 of 1 (0.1 for MIG, whose equal-width bins merge values that exp
crowds together), minima within 0.05 of 0 (MIG, DCI disentanglement and completeness) or 0.15 of
chance (FactorVAE, beta-VAE: a few hundred votes), and the ordering true > mixed > noise strict
with a margin of 0.1 on every metric.
"""

import numpy as np
import pytest

from keras_vae import disentanglement as dis

DATA = dis.FactorDataset.from_factor_grid((4, 4, 5, 6))
PERMUTATION = [2, 0, 3, 1]


def true(x):
    x = np.asarray(x)[:, PERMUTATION]
    return np.stack([np.exp(0.5 * x[:, 0]), -3 * x[:, 1] + 1, x[:, 2] ** 3, 0.1 * x[:, 3]], axis=1)


def mixed(x):
    x = np.asarray(x)
    return np.stack([x[:, 0] + x[:, 1], x[:, 2], x[:, 3], NOISE.normal(size=len(x))], axis=1)


NOISE = np.random.default_rng(7)


def noise(x):
    return NOISE.normal(size=(len(x), 4))


def _scores(representation):
    d = dis.dci(representation, DATA, num_train=400, num_test=200, n_estimators=10, seed=1)
    return {
        "mig": dis.mig(representation, DATA, num_samples=2000, seed=0),
        "factor_vae": dis.factor_vae_score(
            representation, DATA, num_train=200, num_eval=200, batch_size=32, num_variance_estimate=2000, seed=2
        ),
        "dci_disentanglement": d["disentanglement"],
        "dci_completeness": d["completeness"],
        "dci_informativeness": d["informativeness"],
        "beta_vae": dis.beta_vae_score(representation, DATA, num_train=200, num_eval=200, batch_size=32, seed=3),
    }


@pytest.fixture(scope="module")
def scores():
    return {name: _scores(f) for name, f in (("true", true), ("mixed", mixed), ("noise", noise))}


def test_true_factors_score_at_the_maximum(scores):
    best = scores["true"]
    assert best["mig"] > 0.9
    for name in ("factor_vae", "dci_disentanglement", "dci_completeness", "dci_informativeness", "beta_vae"):
        assert best[name] > 0.95, (name, best[name])


def test_noise_scores_at_the_minimum(scores):
    worst = scores["noise"]
    for name in ("mig", "dci_disentanglement", "dci_completeness"):
        assert worst[name] < 0.05, (name, worst[name])
    for name in ("factor_vae", "beta_vae"):
        assert abs(worst[name] - 0.25) < 0.15, (name, worst[name])
    # Informativeness: the trees predict a factor no better than guessing its most frequent value.
    assert worst["dci_informativeness"] < 0.35


def test_mixing_two_factors_scores_in_between(scores):
    for name in scores["true"]:
        assert scores["true"][name] > scores["mixed"][name] + 0.1 > scores["noise"][name] + 0.2, name


def test_mutual_information_matrix_against_closed_form():
    # Unit 0 is factor 0 itself (4 equally likely values: I = H = log 4); unit 1 is constant (I = 0).
    factors = DATA.sample_factors(4000, np.random.default_rng(0))
    codes = np.stack([factors[:, 0].astype(float), np.zeros(len(factors))], axis=1)
    matrix = dis.mutual_information_matrix(codes, factors, num_bins=4)
    frequencies = np.bincount(factors[:, 0]) / len(factors)
    np.testing.assert_allclose(matrix[0, 0], -np.sum(frequencies * np.log(frequencies)), rtol=1e-12)
    np.testing.assert_allclose(matrix[1], 0.0, atol=1e-12)
    # Independent factors share little: the plug-in bias, (bins - 1)(values - 1) / (2n) ~ 0.002 nats.
    assert np.all(matrix[0, 1:] < 0.01)


def test_lasso_dci_and_bad_arguments():
    d = dis.dci(true, DATA, num_train=400, num_test=200, regressor="lasso", seed=0)
    assert d["disentanglement"] > 0.9 and d["completeness"] > 0.9
    with pytest.raises(ValueError, match="'gbt' or 'lasso'"):
        dis.dci(true, DATA, regressor="forest")
    with pytest.raises(ValueError, match=r"codes \(n, D\)"):
        dis.mig(lambda x: np.zeros(len(x)), DATA, num_samples=10)
    with pytest.raises(ValueError, match="one per combination"):
        dis.FactorDataset(np.zeros((5, 2)), (2, 3))
