"""Experiment 3: latent size. Samples and the test ELBO of Bernoulli VAEs with 2, 5, 10, 20 and 50 latents.

More latent dimensions let q(z|x) keep more about x at a KL cost. Where the test ELBO peaks
depends on the training budget: in the notebook's full run (150 Adam steps) it peaked at 5
dimensions and fell beyond, larger latent spaces needing more training before they pay;
with long training the curve flattens instead, the extra dimensions staying inactive.
"""

import numpy as np

from keras_vae.data import make_dataset

#: The latent sizes of the experiment.
LATENT_SIZES = (2, 5, 10, 20, 50)


def evaluate_elbo(model, images, batch_size=500):
    """Returns dict(elbo, reconstruction, kl) of `model.evaluate` on binary test images, nats per image."""
    metrics = model.evaluate(make_dataset(images, batch_size=batch_size, shuffle=False), verbose=0, return_dict=True)
    return {k: float(metrics[k]) for k in ("elbo", "reconstruction", "kl")}


def latent_size_sweep(data, models, sizes=LATENT_SIZES, num_samples=10, seed=0):
    """Trains one VAE per latent size (same networks and budget); returns rows of test ELBO terms and samples."""
    rows = []
    for size in sizes:
        model = models.train("vae", data["train"], int(size), seed=seed)
        samples = np.asarray(model.sample(num_samples, seed=seed))
        rows.append({"latent_dim": int(size), **evaluate_elbo(model, data["test_binary"]), "samples": samples})
    return rows


def plot_latent_size(rows):
    """Returns one figure: a row of samples per latent size (left) and the test ELBO against size (right)."""
    from matplotlib.figure import Figure

    from keras_vae.plotting.tiles import tile_images

    fig = Figure(figsize=(10.0, 0.75 * len(rows) + 1.0), layout="constrained")
    grid = fig.add_gridspec(len(rows), 2, width_ratios=(2.2, 1.0))
    for i, row in enumerate(rows):
        ax = fig.add_subplot(grid[i, 0])
        ax.imshow(tile_images(row["samples"], 1, len(row["samples"])), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(f"z in R^{row['latent_dim']}", rotation=0, ha="right", va="center")
        if i == 0:
            ax.set_title("Samples E[x|z], z ~ p(z)")
    ax = fig.add_subplot(grid[:, 1])
    sizes = [r["latent_dim"] for r in rows]
    for key, style in (("elbo", "o-"), ("reconstruction", "s--")):
        ax.plot(sizes, [r[key] for r in rows], style, label=key)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xticks([], minor=True)
    ax.set_xlabel("latent size")
    ax.set_ylabel("nats per test image")
    ax.set_title("Test ELBO (binarized)")
    ax.legend(fontsize=8)
    return fig


def run(data, models, seed=0):
    """Experiment 3; returns `(results, figures)`."""
    rows = latent_size_sweep(data, models, sizes=models.budget.latent_sizes, seed=seed)
    return [{k: v for k, v in r.items() if k != "samples"} for r in rows], {"latent_size": plot_latent_size(rows)}
