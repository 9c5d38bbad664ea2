"""Figures of images and latent spaces, drawn with matplotlib.

Every function returns a `matplotlib.figure.Figure`; `save_figure` writes one to a
PNG atomically.
"""

import os
import tempfile

import matplotlib

matplotlib.use("Agg")  # Files only: the package must work on machines with no display.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def tile_images(images, rows, cols, padding=1):
    """Returns one array that tiles `rows * cols` images (N, H, W, C) in a grid.

    Missing images leave blank tiles; pixels are clipped to [0, 1].

    Example:
    >>> tile_images(np.zeros((6, 28, 28, 1)), rows=2, cols=3).shape
    (58, 87)
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


def plot_reconstructions(model, images, cols=8):
    """Returns inputs (upper row of each pair) above their reconstructions E[x|z=E_q z].

    Args:
        model: a built `VAE`.
        images: array (N, H, W, C) in [0, 1]; N is rounded down to a multiple of `cols`.
        cols: int, default 8.
    """
    images = np.asarray(images, dtype="float32")
    n = max(cols, (len(images) // cols) * cols)
    images = images[:n]
    reconstructions = np.asarray(model.reconstruct(images))
    rows = []
    for start in range(0, len(images), cols):
        rows.append(images[start : start + cols])
        rows.append(reconstructions[start : start + cols])
    stacked = np.concatenate(rows, axis=0)
    return image_grid(stacked, rows=len(rows), cols=cols, title="Inputs (odd rows) and reconstructions (even rows)")


def save_figure(fig, path, dpi=100):
    """Writes `fig` as a PNG to `path` atomically and closes it."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=directory)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
