"""Figures of images and latent spaces, drawn with matplotlib.

Every function returns a `matplotlib.figure.Figure`; `save_figure` writes one to a
PNG atomically.
"""

import matplotlib

matplotlib.use("Agg")  # Files only: the package must work on machines with no display.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from keras_vae import atomic  # noqa: E402


def tile_images(images, rows, cols, padding=1):
    """Returns one array that tiles `rows * cols` images (N, H, W, C) in a grid.

    Missing images leave blank tiles; pixels are clipped to [0, 1].

    Example:
    >>> tile_images(np.zeros((6, 28, 28, 1)), rows=2, cols=3).shape
    (57, 86)
    """
    images = np.clip(np.asarray(images, dtype="float32"), 0.0, 1.0)
    if images.ndim == 3:
        images = images[..., None]
    n, height, width, channels = images.shape
    grid = np.ones(
        (rows * (height + padding) - padding, cols * (width + padding) - padding, channels), dtype="float32"
    )
    for index in range(min(n, rows * cols)):
        r, c = divmod(index, cols)
        top, left = r * (height + padding), c * (width + padding)
        grid[top : top + height, left : left + width] = images[index]
    return grid[..., 0] if channels == 1 else grid


def image_grid(images, rows, cols, title=None, tile_inches=0.5):
    """Returns a figure of `images` (N, H, W, C) in [0, 1] arranged in `rows` x `cols`.

    Args:
        images: array (N, H, W) or (N, H, W, C).
        rows: int. Grid rows.
        cols: int. Grid columns.
        title: str or None, default None.
        tile_inches: float, default 0.5. Size of one tile in inches (100 dpi).
    """
    grid = tile_images(images, rows, cols)
    fig = plt.figure(figsize=(cols * tile_inches, rows * tile_inches + (0.3 if title else 0)))
    ax = fig.add_axes([0, 0, 1, 1 - (0.3 / fig.get_figheight() if title else 0)])
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9, y=0.995, va="top")
    return fig


def plot_samples(model, n=64, seed=0, cols=8):
    """Returns a grid of images decoded from `n` prior draws z ~ p(z) (E[x|z] shown)."""
    images = np.asarray(model.sample(n, seed=seed))
    return image_grid(images, rows=-(-n // cols), cols=cols, title=f"Samples from the prior (seed {seed})")


def plot_reconstructions(model, images, originals=None, cols=8):
    """Returns inputs above their reconstructions E[x|z = E_q z], in alternating rows.

    Args:
        model: a built `VAE`.
        images: array (N, H, W, C) in [0, 1], the inputs the model sees; N is
            rounded down to a multiple of `cols` (at least `cols`).
        originals: array like `images` or None, default None. Grey images that
            `images` were binarized from; when given, each group of rows shows
            original, model input, reconstruction.
        cols: int, default 8.

    Example:
    >>> from keras_vae.models import build_vae
    >>> fig = plot_reconstructions(build_vae((8, 8, 1), latent_dim=2), np.zeros((8, 8, 8, 1)))
    >>> fig.get_size_inches().tolist()
    [4.0, 1.3]
    """
    images = np.asarray(images, dtype="float32")
    n = max(cols, (len(images) // cols) * cols)
    groups = [images[:n], np.asarray(model.reconstruct(images[:n]))]
    labels = ["inputs", "reconstructions"]
    if originals is not None:
        groups.insert(0, np.asarray(originals, dtype="float32")[:n])
        labels.insert(0, "originals")
    rows = [group[start : start + cols] for start in range(0, n, cols) for group in groups]
    title = ", ".join(labels).capitalize() + " in turn, row by row"
    return image_grid(np.concatenate(rows, axis=0), rows=len(rows), cols=cols, title=title)


def save_figure(fig, path, dpi=100):
    """Writes `fig` as a PNG to `path` atomically, closes it, and returns `path`."""
    try:
        with atomic.atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    return path
