"""Experiment 1: why log p(x) is not estimated by sampling the prior.

Two unbiased estimators of p(x), whose logs are (downward-biased) estimators of log p(x):

    naive (prior sampling):   log (1/K) sum_k p(x|z_k),                       z_k ~ p(z)
    importance sampling:      log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x),      z_k ~ q(z|x)

p(x|z) is tiny for nearly every z the prior proposes: only z near the posterior explain x,
and the prior puts little mass there, so the naive estimator needs about as many draws as
the ratio of the prior's volume to the posterior's before it sees them. q(z|x) proposes
them directly. `compare_estimators` measures both as K grows: the bias (mean error against
a reference log p(x)) and the spread (standard deviation over independent repetitions).
"""

import math

import numpy as np
import tensorflow as tf
from scipy.special import logsumexp

from keras_vae import objectives
from keras_vae.evaluation import counter_normal
from keras_vae.layers.noise import stateless_seed
from keras_vae.models.capabilities import BOUND, PRIOR

# Latents decoded at once (chunk * batch); bounds memory at about 8e3 * data size floats.
_LATENTS_PER_CHUNK = 8000


def _chunks(num_samples, batch):
    chunk = max(1, min(num_samples, _LATENTS_PER_CHUNK // max(1, batch)))
    return [(start, min(chunk, num_samples - start)) for start in range(0, num_samples, chunk)]


def _check(model, capability, what):
    model._require_built()
    model._require(capability, what)
    if model.takes_condition:
        raise ValueError(f"{what} is for unconditional models; this model takes a condition.")


def prior_log_likelihoods(model, x, num_samples, seed=0):
    """Returns log p(x|z_k) for K = `num_samples` draws z_k ~ p(z) per input, NumPy (K, batch).

    The terms of the naive estimator log (1/K) sum_k p(x|z_k). Each input gets its own
    draws; chunked, so K can be 10^5.

    Args:
        model: a built, unconditional model that can(PRIOR): its decoder and likelihood give p(x|z).
        x: array (batch, *data_shape), as the model sees them (binarized for Bernoulli).
        num_samples: int. K.
        seed: int, default 0.

    Example:
    >>> from keras_vae.experiments.linear_gaussian import LinearGaussianModel
    >>> lg = LinearGaussianModel()
    >>> prior_log_likelihoods(lg.vae(), lg.sample(3), 10).shape
    (10, 3)
    """
    _check(model, PRIOR, "prior_log_likelihoods")
    x = tf.constant(np.asarray(x, model.compute_dtype))
    batch = int(x.shape[0])
    prior = model.prior_distribution()
    event_ndims = len(model.data_shape)
    parts = []
    for index, (_, size) in enumerate(_chunks(int(num_samples), batch)):
        z = prior.sample((size, batch), seed=stateless_seed(seed, index))  # (size, batch, latent)
        parameters = model.decoder(tf.reshape(z, (size * batch, -1)), training=False)
        parameters = tf.reshape(parameters, (size, batch) + tuple(parameters.shape[1:]))
        parts.append(model.likelihood.distribution(parameters, event_ndims=event_ndims).log_prob(x).numpy())
    return np.concatenate(parts).astype(np.float64)


def posterior_bounds(model, x, num_samples, seed=0):
    """Returns `(log_weights, elbo)`: K importance log weights per input (K, batch) and the ELBO (batch,).

    log w_k = log p(x, z_k) - log q(z_k|x), z_k ~ q(z|x), from the model's own `bound_terms`
    (`objectives.log_importance_weights`) with the counter-based noise of `keras_vae.evaluation`;
    chunked, eager (no tracing: cheap for a few images).
    elbo = mean_k log p(x|z_k) - KL(q(z|x) || p(z)) over the same draws (`objectives.elbo_terms`:
    the KL analytic where tfp has it, else the Monte Carlo mean).

    Example:
    >>> from keras_vae.experiments.linear_gaussian import LinearGaussianModel
    >>> lg = LinearGaussianModel()
    >>> x = lg.sample(2)
    >>> log_w, elbo = posterior_bounds(lg.vae(), x, 4)
    >>> bool(np.allclose(log_w, lg.log_marginal(x), atol=1e-3)), elbo.shape
    (True, (2,))
    """
    _check(model, BOUND, "posterior_bounds")
    x = tf.constant(np.asarray(x, model.compute_dtype))
    batch = int(x.shape[0])
    encoded = model.encode_for_bound(x)
    index = tf.range(batch)
    parts, elbo = [], np.zeros(batch)
    for start, size in _chunks(int(num_samples), batch):
        eps = counter_normal(seed, index, tf.range(start, start + size), model.noise_dim, x.dtype)
        terms = model.bound_terms(x, eps, encoded=encoded)
        parts.append(np.asarray(objectives.log_importance_weights(terms)))
        reconstruction, kl = objectives.elbo_terms(terms)
        elbo += (np.asarray(reconstruction, np.float64) - np.asarray(kl, np.float64)) * size / num_samples
    return np.concatenate(parts).astype(np.float64), elbo


def posterior_log_weights(model, x, num_samples, seed=0):
    """Returns the importance log weights log p(x, z_k) - log q(z_k|x), z_k ~ q(z|x), NumPy (K, batch).

    The first half of `posterior_bounds`.

    Example:
    >>> from keras_vae.experiments.linear_gaussian import LinearGaussianModel
    >>> lg = LinearGaussianModel()
    >>> posterior_log_weights(lg.vae(), lg.sample(2), 4).shape
    (4, 2)
    """
    return posterior_bounds(model, x, num_samples, seed)[0]


def grouped_estimates(log_terms, num_samples):
    """Returns the estimates log (1/K) sum_k exp(t_k) over disjoint groups of K terms, (groups, batch).

    One pool of draws gives floor(pool / K) independent estimates for every K.

    Example:
    >>> grouped_estimates(np.log(np.array([[1.0], [3.0], [2.0], [2.0]])), 2).ravel().round(4).tolist()
    [0.6931, 0.6931]
    """
    pool, batch = log_terms.shape
    groups = pool // int(num_samples)
    if groups < 1:
        raise ValueError(f"K = {num_samples} needs at least K draws; the pool has {pool}.")
    grouped = log_terms[: groups * num_samples].reshape(groups, num_samples, batch)
    return logsumexp(grouped, axis=1) - math.log(num_samples)


def error_summary(log_terms, sizes, reference):
    """Returns, per K in `sizes`, the estimates' bias, spread and root-mean-square error against `reference`.

    bias = mean over images and groups of (estimate - reference); spread = mean over images
    of the standard deviation over the groups (NaN where the pool gives one group only);
    rmse = sqrt(mean (estimate - reference)^2); all in nats.
    """
    rows = []
    for k in sizes:
        estimates = grouped_estimates(log_terms, int(k))
        error = estimates - reference[None, :]
        spread = float(np.mean(np.std(estimates, axis=0, ddof=1))) if len(estimates) > 1 else float("nan")
        rows.append(
            {
                "K": int(k),
                "bias": float(np.mean(error)),
                "spread": spread,
                "rmse": float(np.sqrt(np.mean(error**2))),
                "repetitions": int(len(estimates)),
            }
        )
    return rows


def powers_of_ten(largest):
    """Returns [1, 10, 100, ...] up to `largest` (included when a power of ten)."""
    return [10**p for p in range(int(math.floor(math.log10(largest) + 1e-9)) + 1)]


def compare_estimators(model, x, max_prior_samples, max_posterior_samples=None, reference=None, seed=0):
    """Bias and spread of the naive (prior) and the importance-sampling estimators of log p(x) as K grows.

    Args:
        model: a built unconditional model with PRIOR and BOUND (a VAE).
        x: array (batch, *data_shape).
        max_prior_samples: int. The naive estimator's pool; K runs over powers of ten up to it.
        max_posterior_samples: int or None (= max_prior_samples // 10). The IS pool.
        reference: array (batch,) of the true log p(x), or None: then the IS estimate with the
            whole IS pool stands in for it (the best estimate at hand, and stated as such).
        seed: int, default 0.

    Returns:
        dict(naive=[rows], importance=[rows], reference=array, reference_kind=str), rows as
        `error_summary`.

    Example:
    >>> from keras_vae.experiments.linear_gaussian import LinearGaussianModel
    >>> lg = LinearGaussianModel()
    >>> x = lg.sample(4)
    >>> result = compare_estimators(lg.vae(*lg.perturbed_encoder()), x, 1000, reference=lg.log_marginal(x))
    >>> [row["K"] for row in result["naive"]]
    [1, 10, 100, 1000]
    """
    max_posterior_samples = max_posterior_samples or max(1, max_prior_samples // 10)
    naive = prior_log_likelihoods(model, x, max_prior_samples, seed=seed)
    weights = posterior_log_weights(model, x, max_posterior_samples, seed=seed + 1)
    kind = "exact"
    if reference is None:
        reference = grouped_estimates(weights, max_posterior_samples)[0]
        kind = f"IS-{max_posterior_samples}"
    reference = np.asarray(reference, np.float64)
    return {
        "naive": error_summary(naive, powers_of_ten(max_prior_samples), reference),
        "importance": error_summary(weights, powers_of_ten(max_posterior_samples), reference),
        "reference": reference.tolist(),
        "reference_kind": kind,
    }


def plot_estimators(results, titles=None):
    """Returns a figure: estimate - reference (bias, with +- spread bands) against K, one panel per model.

    Args:
        results: list of `compare_estimators` results.
        titles: list of str or None.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0 * len(results), 3.6), layout="constrained")
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, result, title in zip(axes, results, titles or [""] * len(results)):
        for name, label, color in (("naive", "naive: z ~ p(z)", "tab:red"), ("importance", "IS: z ~ q(z|x)", "tab:blue")):
            rows = result[name]
            k = np.array([r["K"] for r in rows], float)
            bias = np.array([r["bias"] for r in rows])
            spread = np.nan_to_num(np.array([r["spread"] for r in rows]))
            ax.plot(k, bias, "o-", color=color, label=label)
            ax.fill_between(k, bias - spread, bias + spread, color=color, alpha=0.2)
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_xlabel("K (samples per image)")
        ax.set_ylabel(f"estimate - log p(x) ({result['reference_kind']}), nats")
        ax.set_title(title)
        ax.legend(fontsize=8)
    return fig


#: The linear-Gaussian model of the experiment: 20-D data, 5-D latents, noise 0.2, a posterior
#: thousands of times narrower (in volume) than the prior; and its slightly wrong, wider q(z|x).
LINEAR_GAUSSIAN = {"data_dim": 20, "latent_dim": 5, "noise_scale": 0.2, "seed": 0}
PERTURBATION = {"scale": 0.02, "log_var_shift": 0.3, "seed": 1}


def linear_gaussian_comparison(num_images=8, max_prior_samples=100_000, max_posterior_samples=10_000, seed=0):
    """`compare_estimators` on the linear-Gaussian model (`LINEAR_GAUSSIAN`, q as `PERTURBATION`), exact log p(x)."""
    from keras_vae.experiments.linear_gaussian import LinearGaussianModel

    model = LinearGaussianModel(**LINEAR_GAUSSIAN)
    x = model.sample(num_images)
    vae = model.vae(*model.perturbed_encoder(**PERTURBATION))
    return compare_estimators(vae, x, max_prior_samples, max_posterior_samples, model.log_marginal(x), seed=seed)


def run(data, models, seed=0):
    """Experiment 1 on the linear-Gaussian model and a Fashion-MNIST VAE; returns `(results, figures)`.

    Args:
        data: `common.load_fashion_mnist` splits.
        models: `common.TrainedModels` (its budget: estimator_images, max_prior_samples).
        seed: int, default 0.
    """
    budget = models.budget
    exact = linear_gaussian_comparison(8, budget.max_prior_samples, max(10, budget.max_prior_samples // 10), seed)
    vae = models.train("vae", data["train"], 10)
    trained = compare_estimators(
        vae, data["test_binary"][: budget.estimator_images], budget.max_prior_samples, seed=seed
    )
    results = {"linear_gaussian": exact, "fashion_mnist_vae": trained}
    titles = ["linear-Gaussian model (20-D x, 5-D z)", "Fashion-MNIST VAE (MLP, 10-D z)"]
    return results, {"estimators": plot_estimators([exact, trained], titles)}
