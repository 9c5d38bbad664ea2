"""Experiment 5: the ELBO gap, log p(x) - ELBO(x) = KL(q(z|x) || p(z|x)), per test image.

log p(x) is estimated with IS-K (K = 5000 in the full run) and the ELBO from the same K
draws (`keras_vae.experiments.estimators.posterior_bounds`); their difference estimates the gap,
which is >= 0 up to Monte Carlo error and shrinks as the posterior family grows: diagonal
Gaussian, full-covariance Gaussian, inverse autoregressive flow (`keras_vae.posteriors`).
The IS-K estimate itself is still below log p(x) by its own (smaller) bias, so the
measured gap is a lower estimate of the true one.
"""

import numpy as np

from keras_vae.experiments.estimators import grouped_estimates, posterior_bounds

#: The posterior families compared.
POSTERIORS = ("diagonal", "full_covariance", "iaf")


def elbo_gaps(model, images, num_samples=5000, seed=0, batch_size=20):
    """Returns dict(gap, log_px, elbo) per image: the IS-K estimate of log p(x) minus the ELBO, nats.

    Example:
    >>> from keras_vae.experiments.linear_gaussian import LinearGaussianModel
    >>> lg = LinearGaussianModel()
    >>> x = lg.sample(4)
    >>> gaps = elbo_gaps(lg.vae(*lg.perturbed_encoder()), x, num_samples=300)
    >>> bool(np.allclose(gaps["gap"], lg.posterior_kl(x, *lg.perturbed_encoder()), atol=0.2))
    True
    """
    log_px, elbo = [], []
    for start in range(0, len(images), batch_size):
        log_weights, bound = posterior_bounds(model, images[start : start + batch_size], num_samples, seed=seed)
        log_px.append(grouped_estimates(log_weights, num_samples)[0])
        elbo.append(bound)
    log_px, elbo = np.concatenate(log_px), np.concatenate(elbo)
    return {"gap": log_px - elbo, "log_px": log_px, "elbo": elbo}


def gap_by_posterior(data, models, posteriors=POSTERIORS, latent_dim=10, seed=0):
    """Trains a Bernoulli VAE per posterior family alike; returns per family its per-image gaps (arrays)."""
    budget = models.budget
    images = data["test_binary"][: budget.gap_images]
    results = {}
    for posterior in posteriors:
        model = models.train("vae", data["train"], latent_dim, seed=seed, posterior=posterior)
        results[posterior] = elbo_gaps(model, images, budget.gap_samples, seed=seed)
    return results


def plot_elbo_gaps(results, num_samples):
    """Returns a figure: the histogram of per-image gaps for each posterior family, with their means."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 3.4), layout="constrained")
    ax = fig.subplots()
    everything = np.concatenate([r["gap"] for r in results.values()])
    bins = np.linspace(min(0.0, everything.min()), np.percentile(everything, 99) * 1.05 + 1e-6, 30)
    for name, result in results.items():
        gap = result["gap"]
        ax.hist(gap, bins=bins, histtype="step", lw=1.5, label=f"{name}: mean {gap.mean():.2f}, median {np.median(gap):.2f}")
    ax.axvline(0.0, color="k", lw=0.8)
    ax.set_xlabel(f"log p(x) (IS-{num_samples}) - ELBO, nats")
    ax.set_ylabel("test images")
    ax.set_title("ELBO gap KL(q(z|x) || p(z|x)) per test image")
    ax.legend(fontsize=8)
    return fig


def run(data, models, seed=0):
    """Experiment 5; returns `(results, figures)` (the per-image gaps, their summaries and the histogram)."""
    gaps = gap_by_posterior(data, models, seed=seed)
    results = {
        name: {
            "mean_gap": float(np.mean(r["gap"])),
            "median_gap": float(np.median(r["gap"])),
            "min_gap": float(np.min(r["gap"])),
            "mean_log_px": float(np.mean(r["log_px"])),
            "mean_elbo": float(np.mean(r["elbo"])),
            "gap": r["gap"].tolist(),
        }
        for name, r in gaps.items()
    }
    return results, {"elbo_gap": plot_elbo_gaps(gaps, models.budget.gap_samples)}
