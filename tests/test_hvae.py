"""The hierarchical VAE against a two-level linear-Gaussian model with an exact log p(x)."""

import keras
import numpy as np
import pytest

from keras_vae import objectives
from keras_vae.evaluation import importance_sampled_log_likelihood
from keras_vae.likelihoods import Gaussian
from keras_vae.models import BOUND, POSTERIOR, PRIOR, HierarchicalVAE, build_model

from tests.helpers import AffineEncoder, LinearDecoder, assert_config_round_trip


class ConditionalAffineEncoder(keras.layers.Layer):
    """Fixed q(z1|x, z2) = N(Bx x + Bz z2 + c, diag(exp(log_var))): the oracle's second encoder."""

    def __init__(self, matrix_x, matrix_z, offset, log_var, **kwargs):
        super().__init__(**kwargs)
        self.matrix_x = np.asarray(matrix_x, "float32")
        self.matrix_z = np.asarray(matrix_z, "float32")
        self.offset = np.asarray(offset, "float32")
        self.fixed_log_var = np.asarray(log_var, "float32")

    def call(self, inputs):
        x, z2 = inputs
        mean = keras.ops.matmul(x, self.matrix_x.T) + keras.ops.matmul(z2, self.matrix_z.T) + self.offset
        return mean, keras.ops.zeros_like(mean) + self.fixed_log_var


def gaussian_kl(mean_q, cov_q, mean_p, cov_p):
    """KL(N(mean_q, cov_q) || N(mean_p, cov_p)) for one pair of full-covariance Gaussians."""
    precision = np.linalg.inv(cov_p)
    diff = mean_p - mean_q
    k = len(mean_q)
    return 0.5 * (
        np.trace(precision @ cov_q) + diff @ precision @ diff - k
        + np.linalg.slogdet(cov_p)[1] - np.linalg.slogdet(cov_q)[1]
    )


class TwoLevelLinearGaussian:
    """z2 ~ N(0, I), z1 = A z2 + a + s1 n1, x = W z1 + b + s n: log p(x) and p(z1, z2 | x) in closed form.

    W has orthogonal columns and A is diagonal, so the exact p(z2|x) and p(z1|x, z2) are
    diagonal Gaussians that the HVAE's encoders can represent exactly:

        p(z1 | x, z2) = N(L^-1 ((A z2 + a) / s1^2 + W^T (x - b) / s^2), L^-1),  L = I / s1^2 + W^T W / s^2
        p(z2 | x)     = N(S2 G^T C^-1 (x - g), S2),  G = W A, g = W a + b, C = s1^2 W W^T + s^2 I,
                        S2 = (I + G^T C^-1 G)^-1
        x             ~ N(g, W (A A^T + s1^2 I) W^T + s^2 I)
    """

    def __init__(self, data_dim=5, dim=2, s1=0.6, s=0.4, seed=0):
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.normal(size=(data_dim, dim)))
        self.w = q * np.linspace(1.4, 0.8, dim)
        self.a_matrix = np.diag(np.linspace(1.2, 0.7, dim))
        self.a = rng.normal(size=dim) * 0.5
        self.b = rng.normal(size=data_dim)
        self.s1, self.s, self.dim, self.rng = s1, s, dim, rng
        g_matrix = self.w @ self.a_matrix
        self.g = self.w @ self.a + self.b
        c_inv = np.linalg.inv(s1**2 * self.w @ self.w.T + s**2 * np.eye(data_dim))
        self.cov2 = np.linalg.inv(np.eye(dim) + g_matrix.T @ c_inv @ g_matrix)
        self.m2_matrix = self.cov2 @ g_matrix.T @ c_inv
        self.cov1 = np.linalg.inv(np.eye(dim) / s1**2 + self.w.T @ self.w / s**2)
        self.b_x = self.cov1 @ self.w.T / s**2
        self.b_z = self.cov1 @ self.a_matrix / s1**2
        self.c1 = self.cov1 @ (self.a / s1**2 - self.w.T @ self.b / s**2)
        self.marginal_cov = self.w @ (self.a_matrix @ self.a_matrix.T + s1**2 * np.eye(dim)) @ self.w.T + s**2 * np.eye(
            data_dim
        )

    def sample(self, n):
        z2 = self.rng.normal(size=(n, self.dim))
        z1 = z2 @ self.a_matrix.T + self.a + self.s1 * self.rng.normal(size=(n, self.dim))
        return (z1 @ self.w.T + self.b + self.s * self.rng.normal(size=(n, len(self.b)))).astype("float32")

    def log_marginal(self, x):
        """Exact log p(x), from scipy.stats."""
        from scipy.stats import multivariate_normal

        return multivariate_normal(mean=self.g, cov=self.marginal_cov).logpdf(x)

    def joint_posterior(self, x):
        """Mean (n, 2d) and covariance (2d, 2d) of p([z1, z2] | x), from the joint Gaussian (independently)."""
        d = self.dim
        prior_mean = np.concatenate([self.a, np.zeros(d)])
        prior_cov = np.block([[self.a_matrix @ self.a_matrix.T + self.s1**2 * np.eye(d), self.a_matrix],
                              [self.a_matrix.T, np.eye(d)]])
        h = np.concatenate([self.w, np.zeros_like(self.w)], axis=1)
        prior_precision = np.linalg.inv(prior_cov)
        cov = np.linalg.inv(prior_precision + h.T @ h / self.s**2)
        mean = (prior_precision @ prior_mean + (x - self.b) @ h / self.s**2) @ cov.T
        return mean, cov

    def hvae(self, m2_matrix=None, log_var2=None, b_x=None, b_z=None, log_var1=None, prior=None):
        """An HVAE with the exact generative model; its encoders exact unless other maps are given."""
        m2 = self.m2_matrix if m2_matrix is None else m2_matrix
        log_var2 = np.log(np.diag(self.cov2)) if log_var2 is None else log_var2
        b_x = self.b_x if b_x is None else b_x
        b_z = self.b_z if b_z is None else b_z
        log_var1 = np.log(np.diag(self.cov1)) if log_var1 is None else log_var1
        model = HierarchicalVAE(
            AffineEncoder(m2, -m2 @ self.g, log_var2),
            LinearDecoder(np.concatenate([self.w, np.zeros_like(self.w)], axis=1), self.b),
            likelihood=Gaussian(scale=self.s),
            prior=prior,
            z1_encoder=ConditionalAffineEncoder(b_x, b_z, self.c1, log_var1),
            z1_prior=AffineEncoder(self.a_matrix, self.a, np.full(self.dim, 2 * np.log(self.s1))),
            seed=0,
        )
        model.build((None, len(self.b)))
        return model


def test_exact_posteriors_are_diagonal_and_log_weights_equal_log_likelihood():
    oracle = TwoLevelLinearGaussian()
    # The oracle's premise: the exact p(z2|x) and p(z1|x, z2) are diagonal.
    np.testing.assert_allclose(oracle.cov2, np.diag(np.diag(oracle.cov2)), atol=1e-12)
    np.testing.assert_allclose(oracle.cov1, np.diag(np.diag(oracle.cov1)), atol=1e-12)
    x = oracle.sample(32)
    model = oracle.hvae()
    eps = np.random.default_rng(1).standard_normal((8, 32, 4)).astype("float32")
    log_w = objectives.log_importance_weights(model.bound_terms(x, eps))
    # With q = p(z1, z2 | x), log p(x, z) - log q(z|x) = log p(x) for every draw.
    np.testing.assert_allclose(np.asarray(log_w), np.broadcast_to(oracle.log_marginal(x), (8, 32)), atol=3e-4, rtol=0)


def test_elbo_below_and_importance_sampling_converges_to_log_likelihood():
    oracle = TwoLevelLinearGaussian(seed=2)
    x = oracle.sample(16)
    rng = np.random.default_rng(3)
    m2 = oracle.m2_matrix + 0.1 * rng.normal(size=oracle.m2_matrix.shape)
    b_z = oracle.b_z + 0.15 * rng.normal(size=oracle.b_z.shape)
    # Posterior variances wider than the exact ones keep the importance weights' variance finite.
    log_var2 = np.log(np.diag(oracle.cov2)) + np.array([0.6, 0.4])
    log_var1 = np.log(np.diag(oracle.cov1)) + np.array([0.5, 0.3])
    model = oracle.hvae(m2_matrix=m2, log_var2=log_var2, b_z=b_z, log_var1=log_var1)
    log_px = oracle.log_marginal(x)

    # Independent closed form: ELBO = log p(x) - KL(q(z1, z2|x) || p(z1, z2|x)), both joint Gaussians.
    q2_mean, d2 = (x - oracle.g) @ m2.T, np.diag(np.exp(log_var2))
    q1_mean = x @ oracle.b_x.T + q2_mean @ b_z.T + oracle.c1
    q_cov = np.block([[b_z @ d2 @ b_z.T + np.diag(np.exp(log_var1)), b_z @ d2], [d2 @ b_z.T, d2]])
    p_mean, p_cov = oracle.joint_posterior(x)
    gap = np.array([gaussian_kl(np.concatenate([m1, m2_]), q_cov, pm, p_cov)
                    for m1, m2_, pm in zip(q1_mean, q2_mean, p_mean)])
    assert np.all(gap > 0.1)

    eps = np.random.default_rng(4).standard_normal((20_000, 16, 4)).astype("float32")
    reconstruction, kl = objectives.elbo_terms(model.bound_terms(x, eps))
    elbo = np.asarray(reconstruction - kl)
    assert np.all(elbo < log_px)
    # Monte Carlo tolerance: the per-draw log-weight spread here is below 3 nats, so 5
    # standard errors over 20,000 draws are below 0.11 nats.
    np.testing.assert_allclose(elbo, log_px - gap, atol=0.11, rtol=0)

    # IS-K through the package's unchanged evaluation: the error shrinks as K grows and at
    # K = 5,000 every estimate is within 0.03 nats of the exact log p(x) (measured: mean
    # errors 0.88, 0.15, 0.009 nats at K = 1, 20, 5,000; largest 0.020 at K = 5,000).
    errors = {
        k: np.abs(importance_sampled_log_likelihood(model, x, num_samples=k, batch_size=16, seed=0) - log_px)
        for k in (1, 20, 5000)
    }
    assert errors[1].mean() > errors[20].mean() > errors[5000].mean()
    assert errors[5000].max() < 0.03, errors[5000]


def test_hvae_round_trips_and_samples(tmp_path):
    # Training through `fit` (graph mode, with early stopping) is tests/test_presets.py's train() test.
    model = build_model("hvae", (6, 6, 1), latent_dim=2, seed=0, prior="vamp")
    assert model.can(PRIOR) and model.can(BOUND) and not model.can(POSTERIOR)
    assert model.latent_dim == 4
    x = (np.random.default_rng(5).uniform(size=(32, 6, 6, 1)) > 0.5).astype("float32")
    # Moves the weights away from their initial values, so the round trip compares non-trivial ones.
    model.set_weights([w + 0.05 * np.random.default_rng(i).standard_normal(w.shape).astype(w.dtype)
                       for i, w in enumerate(model.get_weights())])
    assert_config_round_trip(model)
    path = tmp_path / "hvae.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored) is HierarchicalVAE
    np.testing.assert_allclose(np.asarray(restored.sample(3, seed=7)), np.asarray(model.sample(3, seed=7)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(restored.embed(x[:4])), np.asarray(model.embed(x[:4])), atol=1e-6)
    eps = np.random.default_rng(6).standard_normal((3, 4, 4)).astype("float32")
    a = objectives.log_importance_weights(model.bound_terms(x[:4], eps))
    b = objectives.log_importance_weights(restored.bound_terms(x[:4], eps))
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-4)
    with pytest.raises(ValueError, match="POSTERIOR|posterior"):
        model.posterior_distribution(x[:2])


def test_conv_hvae_joins_z2_as_channels():
    model = build_model("hvae", (8, 8, 1), architecture="conv", latent_dim=3, seed=0)
    assert model.z1_encoder.mode == "channels"
    assert tuple(model.encode(np.zeros((2, 8, 8, 1), "float32"))[0].shape) == (2, 6)
