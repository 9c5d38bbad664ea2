"""The linear-Gaussian model: a VAE whose log p(x) and p(z|x) are known in closed form.

    z ~ N(0, I_d),   x = W z + b + N(0, s^2 I_D)

    log p(x)    = log N(x; b, W W^T + s^2 I)
    p(z|x)      = N(m(x), Sigma),  Sigma = (I + W^T W / s^2)^-1,  m(x) = Sigma W^T (x - b) / s^2

The experiments (estimators of log p(x), the ELBO gap) and the tests measure the package's
bounds against it: with a Gaussian likelihood of scale s, a linear decoder W z + b and an
affine encoder, `VAE.bound_terms` computes exactly this model.
"""

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="keras_vae")
class AffineEncoder(keras.layers.Layer):
    """Fixed q(z|x) = N(A x + c, diag(exp(log_var))) for flat x: the linear-Gaussian model's encoder.

    Args:
        matrix: array (latent_dim, data_dim), A.
        offset: array (latent_dim,), c.
        log_var: array (latent_dim,), the fixed log-variances.

    Example:
    >>> import numpy as np
    >>> mean, log_var = AffineEncoder(np.eye(2), np.ones(2), np.zeros(2))(np.zeros((1, 2), "float32"))
    >>> np.asarray(mean).tolist()
    [[1.0, 1.0]]
    """

    def __init__(self, matrix, offset, log_var, **kwargs):
        super().__init__(**kwargs)
        self.matrix = np.asarray(matrix, "float32")
        self.offset = np.asarray(offset, "float32")
        self.fixed_log_var = np.asarray(log_var, "float32")
        self.latent_dim = self.matrix.shape[0]

    def call(self, x):
        mean = keras.ops.matmul(x, self.matrix.T) + self.offset
        return mean, keras.ops.zeros_like(mean) + self.fixed_log_var

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], self.latent_dim)
        return shape, shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {"matrix": self.matrix.tolist(), "offset": self.offset.tolist(), "log_var": self.fixed_log_var.tolist()}
        )
        return config


@keras.saving.register_keras_serializable(package="keras_vae")
class LinearDecoder(keras.layers.Layer):
    """Fixed decoder mean W z + b: with a Gaussian likelihood, the linear-Gaussian model.

    Args:
        weights: array (data_dim, latent_dim), W.
        bias: array (data_dim,), b.

    Example:
    >>> import numpy as np
    >>> np.asarray(LinearDecoder(np.ones((3, 2)), np.zeros(3))(np.ones((1, 2), "float32"))).tolist()
    [[2.0, 2.0, 2.0]]
    """

    def __init__(self, weights, bias, **kwargs):
        super().__init__(**kwargs)
        self.w = np.asarray(weights, "float32")
        self.b = np.asarray(bias, "float32")

    def call(self, z):
        return keras.ops.matmul(z, self.w.T) + self.b

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.w.shape[0])

    def get_config(self):
        config = super().get_config()
        config.update({"weights": self.w.tolist(), "bias": self.b.tolist()})
        return config


def gaussian_kl(mean_q, var_q, mean_p, var_p):
    """KL(N(mean_q, diag(var_q)) || N(mean_p, diag(var_p))) per row, in nats (closed form, NumPy).

        KL = 1/2 sum_d [log(var_p / var_q) + (var_q + (mean_q - mean_p)^2) / var_p - 1]

    Example:
    >>> float(gaussian_kl(np.zeros((1, 2)), np.ones(2), np.zeros((1, 2)), np.ones(2))[0])
    0.0
    """
    return 0.5 * np.sum(np.log(var_p / var_q) + (var_q + (mean_q - mean_p) ** 2) / var_p - 1.0, axis=-1)


class LinearGaussianModel:
    """x = W z + b + N(0, s^2 I), z ~ N(0, I): log p(x) and p(z|x) in closed form.

    W has orthogonal columns (scaled from 1.5 down to 0.7), so the exact posterior
        Sigma = (I + W^T W / s^2)^-1,  m(x) = Sigma W^T (x - b) / s^2
    is diagonal and a diagonal-Gaussian encoder can represent it exactly.

    Args:
        data_dim: int, default 6. D.
        latent_dim: int, default 2. d (at most D).
        noise_scale: float, default 0.5. s.
        seed: int, default 0. Seeds W, b and `sample`'s draws.

    Example:
    >>> model = LinearGaussianModel()
    >>> x = model.sample(3)
    >>> vae = model.vae()
    >>> bool(np.allclose(vae.encode(x)[0], model.exact_posterior(x)[0], atol=1e-4))
    True
    """

    def __init__(self, data_dim=6, latent_dim=2, noise_scale=0.5, seed=0):
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.normal(size=(data_dim, latent_dim)))
        self.w = q * np.linspace(1.5, 0.7, latent_dim)
        self.b = rng.normal(size=data_dim)
        self.s = noise_scale
        self.posterior_cov = np.linalg.inv(np.eye(latent_dim) + self.w.T @ self.w / self.s**2)
        self.encoder_matrix = self.posterior_cov @ self.w.T / self.s**2
        self.rng = rng

    @property
    def latent_dim(self):
        return self.w.shape[1]

    def sample(self, n):
        """Returns n draws of x, float32 (n, data_dim)."""
        z = self.rng.normal(size=(n, self.w.shape[1]))
        return (z @ self.w.T + self.b + self.s * self.rng.normal(size=(n, self.w.shape[0]))).astype("float32")

    def log_marginal(self, x):
        """Exact log p(x) per row, from scipy.stats."""
        from scipy.stats import multivariate_normal

        cov = self.w @ self.w.T + self.s**2 * np.eye(self.w.shape[0])
        return multivariate_normal(mean=self.b, cov=cov).logpdf(x)

    def exact_posterior(self, x):
        """Mean (n, latent) and variance (latent,) of p(z|x)."""
        return (x - self.b) @ self.encoder_matrix.T, np.diag(self.posterior_cov)

    def perturbed_encoder(self, scale=0.1, log_var_shift=0.5, seed=1):
        """Returns `(matrix, log_var)` of an approximate q(z|x): the exact one, perturbed.

        matrix = exact + scale * N(0, 1) entries; log_var = exact + log_var_shift (a wider q
        for shift > 0, as importance sampling wants). Pass them to `vae`.
        """
        rng = np.random.default_rng(seed)
        matrix = self.encoder_matrix + scale * rng.normal(size=self.encoder_matrix.shape)
        return matrix, np.log(np.diag(self.posterior_cov)) + log_var_shift

    def posterior_kl(self, x, matrix=None, log_var=None):
        """Closed-form KL(q(z|x) || p(z|x)) = log p(x) - ELBO(x) per row, for the affine q of `vae`."""
        matrix = self.encoder_matrix if matrix is None else np.asarray(matrix)
        log_var = np.log(np.diag(self.posterior_cov)) if log_var is None else np.asarray(log_var)
        p_mean, p_var = self.exact_posterior(np.asarray(x, np.float64))
        q_mean = (np.asarray(x, np.float64) - self.b) @ matrix.T
        return gaussian_kl(q_mean, np.exp(log_var), p_mean, p_var)

    def vae(self, matrix=None, log_var=None):
        """A built VAE whose fixed encoder is the exact posterior, or the affine map given."""
        from keras_vae.likelihoods import Gaussian
        from keras_vae.models.vae import VAE

        matrix = self.encoder_matrix if matrix is None else matrix
        log_var = np.log(np.diag(self.posterior_cov)) if log_var is None else log_var
        model = VAE(
            AffineEncoder(matrix, -matrix @ self.b, log_var),
            LinearDecoder(self.w, self.b),
            likelihood=Gaussian(scale=self.s),
            seed=0,
        )
        model.build((None, self.w.shape[0]))
        return model
