"""Experiment 6: sampling x itself. `model.sample(n, seed)` shows E[x|z]; `draw=True` draws x ~ p(x|z).

For a Bernoulli decoder E[x|z] is a grey image of pixel probabilities, and a draw is a
binary image; for a Gaussian decoder a draw is E[x|z] plus independent pixel noise of
scale sigma. The smooth images usually shown as "samples" are means, not draws.
"""

import numpy as np

from keras_vae.layers.noise import stateless_seed


def draw_observations(model, z, num_draws=1, seed=0):
    """Returns `num_draws` draws x ~ p(x|z) for each latent z, (num_draws, len(z), *data_shape), NumPy.

    Through the model's likelihood (`Likelihood.draw`), so for every likelihood alike.

    Example:
    >>> from keras_vae.models import build_vae
    >>> model = build_vae((4, 4, 1), latent_dim=2, seed=0)
    >>> draw_observations(model, np.zeros((3, 2), "float32"), num_draws=2).shape
    (2, 3, 4, 4, 1)
    """
    z = np.asarray(z, model.compute_dtype)
    parameters = np.asarray(model.decoder(np.tile(z, (num_draws, 1)), training=False))
    draws = np.asarray(model.likelihood.draw(parameters, stateless_seed(seed, 1)))
    return draws.reshape((num_draws, len(z)) + tuple(model.data_shape))


def means_and_draws(model, n=8, seed=0):
    """Returns `(means, draws)`: `model.sample(n, seed)` and `model.sample(n, seed, draw=True)` (the same z)."""
    return np.asarray(model.sample(n, seed=seed)), np.asarray(model.sample(n, seed=seed, draw=True))


def plot_means_and_draws(models, n=8, seed=0):
    """Returns one grid: for each (name, model), a row of E[x|z] and a row of draws x ~ p(x|z) at the same z."""
    from keras_vae.plotting.figures import image_grid

    images, labels = [], []
    for name, model in models.items():
        means, draws = means_and_draws(model, n, seed)
        images += [means, np.clip(draws, 0.0, 1.0)]
        labels += [f"{name} E[x|z]", f"{name} draw"]
    return image_grid(np.concatenate(images), rows=len(labels), cols=n, row_labels=labels,
                      title="The mean of p(x|z) and draws from it")


def run(data, models, seed=0):
    """Experiment 6 on the Bernoulli VAE (10 latents) and the learned-sigma Gaussian VAE; returns `(results, figures)`."""
    from keras_vae.likelihoods import Gaussian

    bernoulli = models.train("vae", data["train"], 10, seed=seed)
    gaussian = models.train("vae", data["train"], 10, likelihood=Gaussian(), binarize="none", seed=seed)
    results = {}
    for name, model in (("bernoulli", bernoulli), ("gaussian", gaussian)):
        means, draws = means_and_draws(model, 64, seed)
        results[name] = {
            "distinct_values_in_draws": int(len(np.unique(draws))),
            "mean_abs_draw_minus_mean": float(np.mean(np.abs(draws - means))),
        }
    return results, {"draws": plot_means_and_draws({"Bern.": bernoulli, "Gauss.": gaussian}, seed=seed)}
