"""Experiment 2: the decoder's sigma is a regulariser.

With p(x|z) = N(mu(z), sigma^2 I) over D pixels,

    -log p(x|z) = ||x - mu(z)||^2 / (2 sigma^2) + D log sigma + const,

so the ELBO weighs the squared error by 1 / (2 sigma^2) against the KL: a fixed sigma
plays the role of beta = 2 sigma^2 (in the units of a unit-variance decoder). Small sigma:
every pixel error is expensive, the encoder spends nats (a large KL) and samples are sharp
but the prior is poorly matched; large sigma: the KL wins, codes collapse towards the prior,
reconstructions and samples blur. A learned global sigma, or a sigma(z) per pixel
(`keras_vae.likelihoods.Gaussian(scale=None)`, `HeteroscedasticGaussian`), picks its own point.

Sample sharpness (`sharpness`): the variance of the discrete Laplacian of each image,
averaged over images (Pech-Pacheco et al. 2000): blur removes high frequencies, which lowers it.
"""

import numpy as np

from keras_vae.experiments.common import in_batches
from keras_vae.likelihoods import Gaussian, HeteroscedasticGaussian

#: The fixed sigmas of the full sweep (images in [0, 1]; `Budget.decoder_scales`).
SCALES = (0.03, 0.1, 0.3, 1.0)


def sharpness(images):
    """Mean over images of the variance of their discrete Laplacian (5-point stencil), per channel.

    Higher means sharper. Images (N, H, W) or (N, H, W, C), any range; the border pixels,
    where the stencil would leave the image, are left out.

    Example:
    >>> import numpy as np
    >>> flat = np.full((1, 8, 8), 0.5)
    >>> checker = np.indices((8, 8)).sum(0)[None] % 2 * 1.0
    >>> float(sharpness(flat)), float(sharpness(checker)) > 1
    (0.0, True)
    """
    images = np.asarray(images, np.float64)
    if images.ndim == 3:
        images = images[..., None]
    laplacian = (
        images[:, :-2, 1:-1] + images[:, 2:, 1:-1] + images[:, 1:-1, :-2] + images[:, 1:-1, 2:] - 4 * images[:, 1:-1, 1:-1]
    )
    return float(np.mean(np.var(laplacian, axis=(1, 2))))


def _effective_scale(model, test):
    """sigma of a fixed or learned Gaussian; for sigma(z), the root-mean-square sigma over test reconstructions."""
    likelihood = model.likelihood
    if isinstance(likelihood, HeteroscedasticGaussian):  # the experiment's own decoders, not a consumer dispatch
        scales = in_batches(
            lambda x: likelihood.stddev(model.decoder(model.embed(x), training=False)), test
        )
        return float(np.sqrt(np.mean(scales**2)))
    return float(np.asarray(likelihood.stddev()))


def measure(model, test, seed=0, num_samples=64):
    """Returns dict(sigma, kl, mse, sharpness, samples) of a Gaussian-decoder VAE on test images.

    kl: mean analytic KL(q(z|x) || p(z)) in nats; mse: mean squared error per pixel of the
    reconstructions E[x|z = posterior mean]; sharpness: `sharpness` of `num_samples` prior
    samples E[x|z]; samples: those images.
    """
    kl = in_batches(lambda x: model.elbo_terms(x)[1], test)
    reconstructions = in_batches(model.reconstruct, test)
    samples = np.clip(np.asarray(model.sample(num_samples, seed=seed)), 0.0, 1.0)
    return {
        "sigma": _effective_scale(model, test),
        "kl": float(np.mean(kl)),
        "mse": float(np.mean((reconstructions - test) ** 2)),
        "sharpness": sharpness(samples),
        "data_sharpness": sharpness(test[:num_samples]),
        "samples": samples,
    }


def decoder_scale_sweep(data, models, scales=SCALES, learned=True, latent_dim=10, seed=0):
    """Trains Gaussian-decoder VAEs on continuous images over `scales` (+ learned sigma and sigma(z)); measures each.

    Args:
        data: `common.load_fashion_mnist` splits (the grey images, not binarized).
        models: `common.TrainedModels`.
        scales: sequence of float, default `SCALES`.
        learned: bool, default True. Also a learned global sigma and a per-pixel sigma(z).
        latent_dim: int, default 10.
        seed: int, default 0.

    Returns:
        list of dicts: `measure`'s, plus "decoder" ("fixed", "learned", "sigma(z)").
    """
    decoders = [("fixed", Gaussian(scale=s)) for s in scales]
    if learned:
        decoders += [("learned", Gaussian()), ("sigma(z)", HeteroscedasticGaussian())]
    rows = []
    for name, likelihood in decoders:
        model = models.train("vae", data["train"], latent_dim, likelihood=likelihood, binarize="none", seed=seed)
        rows.append({"decoder": name, **measure(model, data["test"], seed=seed)})
    return rows


def plot_decoder_scale(rows):
    """Returns a figure: KL, reconstruction error and sample sharpness against sigma (log axis)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11.0, 3.4), layout="constrained")
    axes = fig.subplots(1, 3)
    fixed = [r for r in rows if r["decoder"] == "fixed"]
    others = [r for r in rows if r["decoder"] != "fixed"]
    for ax, key, label in zip(
        axes, ("kl", "mse", "sharpness"), ("KL(q(z|x) || p(z)), nats", "reconstruction MSE per pixel", "sample sharpness")
    ):
        ax.plot([r["sigma"] for r in fixed], [r[key] for r in fixed], "o-", color="tab:blue", label="fixed sigma")
        for row, marker in zip(others, ("s", "^", "D")):
            ax.plot([row["sigma"]], [row[key]], marker, ms=9, label=f"{row['decoder']} (sigma {row['sigma']:.3f})")
        if key == "sharpness":
            ax.axhline(rows[0]["data_sharpness"], color="k", ls="--", lw=0.8, label="test images")
        ax.set_xscale("log")
        ax.set_xlabel("decoder sigma")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    return fig


def plot_decoder_samples(rows, cols=8):
    """Returns one grid: a row of prior samples E[x|z] per decoder, labelled with its sigma."""
    from keras_vae.plotting.figures import image_grid

    images = np.concatenate([r["samples"][:cols] for r in rows])
    labels = [f"{r['decoder']} {r['sigma']:.2g}" if r["decoder"] != "fixed" else f"sigma {r['sigma']:g}" for r in rows]
    return image_grid(images, rows=len(rows), cols=cols, row_labels=labels, title="Samples E[x|z] by decoder sigma")


def run(data, models, seed=0):
    """Experiment 2; returns `(results, figures)`: the sweep's numbers and two figures."""
    rows = decoder_scale_sweep(data, models, scales=models.budget.decoder_scales, seed=seed)
    results = [{k: v for k, v in r.items() if k != "samples"} for r in rows]
    return results, {"decoder_scale": plot_decoder_scale(rows), "decoder_scale_samples": plot_decoder_samples(rows)}
