"""Image batches laid out as one image array: the tiling under every grid figure and TensorBoard grid.

NumPy only (no matplotlib), so `keras_vae.image_logging` tiles the same way the figures do.
"""

import numpy as np


#: Channel counts drawn as they are: grey, RGB, RGBA.
DRAWN_CHANNELS = (1, 3, 4)


def as_image_batch(images):
    """Returns `images` as float32 (N, H, W, C) that every grid can draw, whatever their channel count.

    A channel axis is added to (N, H, W). Images with a channel count other than 1, 3 or 4
    (which no colour map shows, e.g. 2 or 5 channels) become their channels side by side as
    grey panels, left to right: (N, H, C * W, 1).

    Example:
    >>> as_image_batch(np.zeros((2, 5, 4))).shape
    (2, 5, 4, 1)
    >>> as_image_batch(np.zeros((2, 5, 4, 5))).shape
    (2, 5, 20, 1)
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim == 3:
        return images[..., None]
    if images.ndim != 4 or images.shape[-1] in DRAWN_CHANNELS:
        return images
    n, height, width, channels = images.shape
    return images.transpose(0, 1, 3, 2).reshape(n, height, channels * width, 1)


def tile_images(images, rows, cols, padding=1):
    """Returns one array that tiles `rows * cols` images (N, H, W, C) in a grid, row by row.

    Missing images leave blank (white) tiles; pixels are clipped to [0, 1]; tiles
    are `padding` white pixels apart.

    Args:
        images: array (N, H, W) or (N, H, W, C) (other C than 1, 3, 4: see `as_image_batch`).
        rows: int. Grid rows.
        cols: int. Grid columns.
        padding: int, default 1. Pixels between tiles.

    Returns:
        float32 array (rows * (H + padding) - padding, cols * (W + padding) - padding),
        with a trailing channel axis when C > 1.

    Example:
    >>> tile_images(np.zeros((6, 28, 28, 1)), rows=2, cols=3).shape
    (57, 86)
    """
    images = np.clip(as_image_batch(images), 0.0, 1.0)
    n, height, width, channels = images.shape
    grid = np.ones(
        (rows * (height + padding) - padding, cols * (width + padding) - padding, channels), dtype="float32"
    )
    for index in range(min(n, rows * cols)):
        r, c = divmod(index, cols)
        top, left = r * (height + padding), c * (width + padding)
        grid[top : top + height, left : left + width] = images[index]
    return grid[..., 0] if channels == 1 else grid


def interleave_rows(groups, cols):
    """Returns the images of `groups` (each (N, ...)) row by row: `cols` of the first, then of the second...

    Example:
    >>> a, b = np.zeros((4, 2, 2, 1)), np.ones((4, 2, 2, 1))
    >>> interleave_rows([a, b], cols=2)[:, 0, 0, 0].tolist()
    [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    """
    n = min(len(group) for group in groups)
    rows = [np.asarray(group[start : start + cols]) for start in range(0, n, cols) for group in groups]
    return np.concatenate(rows, axis=0)
