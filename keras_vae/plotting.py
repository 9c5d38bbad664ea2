"""Figures of images and latent spaces, drawn with matplotlib.

Every function returns a `matplotlib.figure.Figure`; `save_figure` writes one to a
PNG atomically.
"""

import csv
import os
import statistics

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


def plot_class_samples(model, per_class=8, seed=0, class_names=None, tile_inches=0.5):
    """Returns a conditional model's samples, one row per class, the same z down each column.

    Column j decodes the same prior draw z_j under every class, so a row shows what
    the class changes and a column what z (the "style") keeps.

    Args:
        model: a `ConditionalVAE` with `num_classes` (sample(n, seed, labels=...)).
        per_class: int, default 8. Samples (columns) per class.
        seed: int, default 0. Seed of the prior draws; the same seed gives the same figure.
        class_names: sequence of `num_classes` str or None (the class ids).
        tile_inches: float, default 0.5.

    Example:
    >>> from keras_vae.models import build_model
    >>> model = build_model("cvae", (8, 8, 1), latent_dim=2, num_classes=3)
    >>> plot_class_samples(model, per_class=4).class_images.shape
    (3, 4, 8, 8, 1)
    """
    num_classes = getattr(model, "num_classes", None)
    if not num_classes:
        raise ValueError("plot_class_samples needs a conditional model with class labels (num_classes).")
    if int(per_class) < 1:
        raise ValueError(f"per_class must be a positive integer, got {per_class}.")
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for {num_classes} classes.")
    per_class = int(per_class)
    # ConditionalVAE.sample draws z from the seed alone, so every row decodes the same z.
    images = np.stack(
        [np.asarray(model.sample(per_class, seed=seed, labels=np.full(per_class, k))) for k in range(num_classes)]
    )
    fig = labelled_grid(
        images.reshape((-1,) + images.shape[2:]),
        rows=num_classes,
        cols=per_class,
        title=f"Samples per class, the same z down each column (seed {seed})",
        row_labels=list(class_names) if class_names is not None else [str(k) for k in range(num_classes)],
        col_labels=[f"z{j}" for j in range(per_class)],
        tile_inches=tile_inches,
    )
    fig.class_images = images
    return fig


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
    cols = max(1, min(cols, len(images)))  # a small held-out split may have fewer images
    n = (len(images) // cols) * cols
    groups = [images[:n], np.asarray(model.reconstruct(images[:n]))]
    labels = ["inputs", "reconstructions"]
    if originals is not None:
        groups.insert(0, np.asarray(originals, dtype="float32")[:n])
        labels.insert(0, "originals")
    tiles = interleave_rows(groups, cols)
    title = ", ".join(labels).capitalize() + " in turn, row by row"
    return image_grid(tiles, rows=len(tiles) // cols, cols=cols, title=title)


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


def figure_png(fig, dpi=100, close=True):
    """Returns `fig` as PNG bytes (no timestamp or version metadata); closes it unless `close=False`.

    In a notebook: `IPython.display.Image(figure_png(fig, dpi=80))`.
    """
    import io

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, dpi=dpi, format="png", metadata={"Software": None})
    finally:
        if close:
            plt.close(fig)
    return buffer.getvalue()


def save_figure(fig, path, dpi=100):
    """Writes `fig` as a PNG to `path` atomically, closes it, and returns `path`.

    The PNG carries no timestamp or version metadata, so the same figure always
    gives the same bytes.
    """
    try:
        with atomic.atomic_path(path) as tmp:
            # No "Software" entry: the same figure gives the same bytes under any matplotlib version.
            fig.savefig(tmp, dpi=dpi, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    return path


# Latent-space figures -----------------------------------------------------------------


def _z_mean(encoded):
    """The posterior mean from an `encode` result: z_mean or (z_mean, z_log_var)."""
    if isinstance(encoded, (tuple, list)):
        encoded = encoded[0]
    return np.asarray(encoded, dtype="float32")


def encode_means(model, images, batch_size=500, conditions=None):
    """Returns the posterior means z_mean (N, latent_dim) of `images`, encoded in batches.

    Args:
        model: anything with an `encode(x)` method returning z_mean or (z_mean, z_log_var),
            or, with `conditions`, an `encode(x, c)` method (a `ConditionalVAE`).
        images: array (N, ...).
        batch_size: int, default 500.
        conditions: array (N, ...) or None, default None. Each image's condition (labels).

    Example:
    >>> from keras_vae.models import build_vae
    >>> encode_means(build_vae((8, 8, 1), latent_dim=2), np.zeros((3, 8, 8, 1))).shape
    (3, 2)
    """
    images = np.asarray(images, dtype="float32")
    if len(images) == 0:
        raise ValueError("No images to encode.")
    if conditions is not None and len(conditions) != len(images):
        raise ValueError(f"{len(conditions)} conditions for {len(images)} images.")

    def encode(start):
        batch = images[start : start + batch_size]
        if conditions is None:
            return model.encode(batch)
        return model.encode(batch, conditions[start : start + batch_size])

    parts = [_z_mean(encode(start)) for start in range(0, len(images), batch_size)]
    return np.concatenate(parts, axis=0).reshape(len(images), -1)


def _single_image_batch(image, name):
    image = np.asarray(image, dtype="float32")
    return image if image.ndim == 4 else image[None]


def _tick_positions(count, size, padding=1):
    """Centres of `count` tiles of `size` pixels in a tiled grid."""
    return [i * (size + padding) + (size - 1) / 2 for i in range(count)]


def _every(labels, max_labels=12):
    """Keeps about `max_labels` of the tick labels (blanks the others) so they stay readable."""
    step = max(1, -(-len(labels) // max_labels))
    return [label if i % step == 0 or i == len(labels) - 1 else "" for i, label in enumerate(labels)]


def labelled_grid(
    images, rows, cols, title=None, row_labels=None, col_labels=None, xlabel=None, ylabel=None, tile_inches=0.5
):
    """Returns a figure like `image_grid` with optional tick labels on tile rows and columns.

    The margins are fixed in inches, so a grid of `rows` x `cols` tiles is
    `cols * tile_inches` (+ 0.75 with row labels or a y label) inches wide and
    `rows * tile_inches` (+ 0.3 with a title, + 0.45 with column labels or an x label) high.

    Args:
        images: array (N, H, W) or (N, H, W, C) in [0, 1], row by row.
        rows, cols: int. Grid size.
        title: str or None.
        row_labels, col_labels: sequences of str (one per row / column) or None.
        xlabel, ylabel: str or None. Axis titles.
        tile_inches: float, default 0.5.
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim == 3:
        images = images[..., None]
    height, width = images.shape[1:3]
    grid = tile_images(images, rows, cols)
    left = 0.75 if (row_labels is not None or ylabel) else 0.0
    bottom = 0.45 if (col_labels is not None or xlabel) else 0.0
    top = 0.3 if title else 0.0
    fig_w, fig_h = cols * tile_inches + left, rows * tile_inches + bottom + top
    fig = plt.figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes([left / fig_w, bottom / fig_h, cols * tile_inches / fig_w, rows * tile_inches / fig_h])
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="auto")
    for side in ax.spines.values():
        side.set_visible(False)
    if col_labels is not None:
        ax.set_xticks(_tick_positions(cols, width), _every(list(col_labels)), fontsize=6)
    else:
        ax.set_xticks([])
    if row_labels is not None:
        ax.set_yticks(_tick_positions(rows, height), _every(list(row_labels)), fontsize=6)
    else:
        ax.set_yticks([])
    ax.tick_params(length=2, pad=1)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=7, labelpad=1)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=7, labelpad=1)
    if title:
        # Small enough to fit a narrow grid (about 0.55 em per character).
        fontsize = max(4.0, min(8.0, fig_w * 72 / (0.55 * len(title))))
        fig.suptitle(title, fontsize=fontsize, y=1 - 0.03 / fig_h, va="top")
    return fig


def latent_manifold_grid(n=15, quantile_range=(0.05, 0.95)):
    """Returns `n` latent values at equally spaced quantiles of N(0, 1), ascending.

    Kingma and Welling (2013, figure 4) decode z = (Phi^-1(q1), Phi^-1(q2)) on
    such a grid, so each tile covers the same prior probability mass.

    Example:
    >>> [round(float(v), 3) for v in latent_manifold_grid(3, (0.1, 0.9))]
    [-1.282, 0.0, 1.282]
    """
    low, high = (float(q) for q in quantile_range)
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"quantile_range must satisfy 0 < low < high < 1, got {tuple(quantile_range)}.")
    if int(n) < 1:
        raise ValueError(f"n must be a positive integer, got {n}.")
    normal = statistics.NormalDist()
    return np.array([normal.inv_cdf(q) for q in np.linspace(low, high, int(n))], dtype="float32")


def latent_manifold_points(latent_dim, n=15, dims=(0, 1), quantile_range=(0.05, 0.95)):
    """Returns the latent points (n * n, latent_dim) that `plot_latent_manifold` decodes, row by row.

    Row r, column c of the grid holds z[dims[0]] = values[c] (left to right, ascending)
    and z[dims[1]] = values[n - 1 - r] (top to bottom, descending); other dimensions are 0.
    """
    dims = tuple(int(d) for d in dims)
    if len(dims) != 2 or dims[0] == dims[1] or not all(0 <= d < latent_dim for d in dims):
        raise ValueError(f"dims must be two different latent dimensions in [0, {latent_dim}), got {dims}.")
    values = latent_manifold_grid(n, quantile_range)
    points = np.zeros((len(values), len(values), latent_dim), dtype="float32")
    points[:, :, dims[0]] = values[None, :]
    points[:, :, dims[1]] = values[::-1, None]
    return points.reshape(-1, latent_dim)


def plot_latent_manifold(model, n=15, dims=(0, 1), quantile_range=(0.05, 0.95), tile_inches=0.5):
    """Returns the learned manifold: E[x|z] decoded on an n x n grid of two latent dimensions.

    The grid values are quantiles of N(0, 1) (`latent_manifold_grid`); the other
    latent dimensions are 0. The figure's `latent_grid` attribute holds
    {"values": (n,), "points": (n * n, latent_dim), "dims": dims}, the points in
    tile order (row by row, see `latent_manifold_points`).

    Example:
    >>> from keras_vae.models import build_vae
    >>> fig = plot_latent_manifold(build_vae((8, 8, 1), latent_dim=2), n=5)
    >>> fig.latent_grid["points"].shape
    (25, 2)
    """
    if getattr(model, "latent_dim", None) is None:
        raise ValueError("The model is not built yet; build or fit it before plotting its manifold.")
    points = latent_manifold_points(model.latent_dim, n, dims, quantile_range)
    values = latent_manifold_grid(n, quantile_range)
    images = np.asarray(model.decode(points))
    labels = [f"{v:.2f}" for v in values]
    fig = labelled_grid(
        images,
        rows=len(values),
        cols=len(values),
        title=f"Decoded latent grid, quantiles {quantile_range[0]:g}-{quantile_range[1]:g} of N(0, 1)",
        row_labels=labels[::-1],
        col_labels=labels,
        xlabel=f"z[{dims[0]}]",
        ylabel=f"z[{dims[1]}]",
        tile_inches=tile_inches,
    )
    fig.latent_grid = {"values": values, "points": points, "dims": tuple(dims)}
    return fig


def project_2d(encodings):
    """Returns (N, 2) coordinates and axis names: z itself when latent_dim <= 2, else PCA (NumPy SVD).

    Example:
    >>> xy, names = project_2d(np.eye(4)[:3])
    >>> xy.shape, names[0].startswith("PC1")
    ((3, 2), True)
    """
    z = np.asarray(encodings, dtype="float64")
    z = z.reshape(len(z), -1)
    if z.shape[1] == 1:
        return np.stack([z[:, 0], np.zeros(len(z))], axis=1), ["z[0]", ""]
    if z.shape[1] == 2:
        return z, ["z[0]", "z[1]"]
    centred = z - z.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    variance = singular**2
    share = variance / variance.sum() if variance.sum() > 0 else np.zeros_like(variance)
    # Fix the sign of each component so the picture does not flip between runs.
    signs = np.sign(vt[:2, np.argmax(np.abs(vt[:2]), axis=1)].diagonal())
    signs[signs == 0] = 1
    xy = centred @ (vt[:2].T * signs)
    return xy, [f"PC1 of z ({share[0]:.0%} of variance)", f"PC2 of z ({share[1]:.0%} of variance)"]


def plot_latent_scatter(encodings_or_models, images=None, labels=None, class_names=None, titles=None, max_points=5000):
    """Returns scatter plots of posterior means z_mean coloured by label, one panel per model.

    Latent spaces with more than two dimensions are projected on their first two
    principal components (PCA by NumPy SVD, per model).

    Args:
        encodings_or_models: one item or a list (or a dict title -> item) of items,
            each an object with an `encode(x)` method returning z_mean or
            (z_mean, z_log_var) (a VAE, an autoencoder), or an array of encodings (N, d).
        images: array (N, ...) the models encode; needed unless only arrays are given.
        labels: int array (N,) or None (one colour).
        class_names: sequence of str indexed by label, or None.
        titles: sequence of str, one per item, or None.
        max_points: int, default 5000. Only the first `max_points` examples are drawn.
    """
    if isinstance(encodings_or_models, dict):
        titles = list(encodings_or_models) if titles is None else titles
        items = list(encodings_or_models.values())
    elif isinstance(encodings_or_models, (list, tuple)):
        items = list(encodings_or_models)
    else:
        items = [encodings_or_models]
    if not items:
        raise ValueError("Nothing to plot: pass a model, an array of encodings, or a list of them.")
    if titles is not None and len(titles) != len(items):
        raise ValueError(f"{len(titles)} titles for {len(items)} panels.")
    if images is not None:
        images = np.asarray(images, dtype="float32")[:max_points]
    encodings = []
    for index, item in enumerate(items):
        if hasattr(item, "encode"):
            if images is None:
                raise ValueError("images are needed to encode with a model.")
            encodings.append(encode_means(item, images))
        else:
            encodings.append(np.asarray(item, dtype="float32")[:max_points])
    n = len(encodings[0])
    if any(len(e) != n for e in encodings):
        raise ValueError(f"The panels have different numbers of examples: {[len(e) for e in encodings]}.")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)[:max_points]
        if len(labels) != n:
            raise ValueError(f"{len(labels)} labels for {n} encoded examples.")
    fig, axes = plt.subplots(1, len(items), figsize=(3.6 * len(items) + 1.3, 3.6), squeeze=False)
    classes = np.unique(labels) if labels is not None else []
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for index, (ax, z) in enumerate(zip(axes[0], encodings)):
        xy, names = project_2d(z)
        if labels is None:
            ax.scatter(xy[:, 0], xy[:, 1], s=3, alpha=0.6, linewidths=0, color="tab:blue")
        else:
            for k, label in enumerate(classes):
                mask = labels == label
                known = class_names is not None and 0 <= int(label) < len(class_names)
                name = class_names[int(label)] if known else str(label)
                color = cmap(k % cmap.N)
                ax.scatter(xy[mask, 0], xy[mask, 1], s=3, alpha=0.6, linewidths=0, color=color, label=name)
        ax.set_xlabel(names[0], fontsize=7)
        ax.set_ylabel(names[1], fontsize=7)
        ax.tick_params(labelsize=6)
        if titles is not None:
            title = titles[index]
        else:
            title = type(items[index]).__name__ if hasattr(items[index], "encode") else ""
        ax.set_title(f"{title} ({z.shape[1]}-d)".strip(), fontsize=8)
    if labels is not None:
        handles, names = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, names, loc="center right", fontsize=6, markerscale=3, frameon=False)
    width = fig.get_figwidth()
    fig.subplots_adjust(left=0.8 / width, right=1 - 1.3 / width, bottom=0.15, top=0.83, wspace=0.3)
    fig.suptitle(f"Posterior means of {n} examples", fontsize=9)
    return fig


def plot_interpolation(model, image_a, image_b, steps=10, show_inputs=True, tile_inches=0.5):
    """Returns decodings of z = (1 - t) z_a + t z_b between two posterior means, one strip per pair.

    Args:
        model: a VAE (encode, decode).
        image_a, image_b: one image (H, W, C) each, or batches (P, H, W, C) of P pairs (one row each).
        steps: int, default 10. Decoded points, t = 0, ..., 1.
        show_inputs: bool, default True. Put the two inputs at the ends of each row.
    """
    a, b = _single_image_batch(image_a, "image_a"), _single_image_batch(image_b, "image_b")
    if a.shape != b.shape:
        raise ValueError(f"image_a and image_b differ in shape: {a.shape} and {b.shape}.")
    if int(steps) < 2:
        raise ValueError(f"steps must be at least 2, got {steps}.")
    za, zb = encode_means(model, a), encode_means(model, b)
    t = np.linspace(0.0, 1.0, int(steps), dtype="float32")
    z = (1 - t)[None, :, None] * za[:, None, :] + t[None, :, None] * zb[:, None, :]
    decoded = np.asarray(model.decode(z.reshape(-1, z.shape[-1]))).reshape((len(a), len(t)) + a.shape[1:])
    col_labels = [f"{v:.2f}" for v in t]
    if show_inputs:
        decoded = np.concatenate([a[:, None], decoded, b[:, None]], axis=1)
        col_labels = ["A"] + col_labels + ["B"]
    fig = labelled_grid(
        decoded.reshape((-1,) + a.shape[1:]),
        rows=len(a),
        cols=decoded.shape[1],
        title="Interpolation between posterior means: (1 - t) z_A + t z_B",
        col_labels=col_labels,
        xlabel="t",
        tile_inches=tile_inches,
    )
    fig.latent_path = z
    return fig


def attribute_vector(model, images, labels, attribute_class):
    """Returns mean z_mean of the images of `attribute_class` minus mean z_mean of the others."""
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images.")
    mask = labels == attribute_class
    if not mask.any() or mask.all():
        raise ValueError(
            f"The attribute vector needs images with and without class {attribute_class!r}; "
            f"got {int(mask.sum())} of {len(labels)} with it."
        )
    z = encode_means(model, images)
    return z[mask].mean(axis=0) - z[~mask].mean(axis=0)


def plot_attribute_arithmetic(
    model, images, labels, attribute_class, base_images, scales=(0, 0.5, 1, 1.5, 2), class_names=None, tile_inches=0.5
):
    """Returns decodings of z_base + s * v for an attribute vector v, one row per base image.

    v = mean z_mean of `images` whose label is `attribute_class` minus the mean of
    the others (White 2016, "Sampling generative networks"). The first column shows
    the base image itself. The vector is kept as `fig.attribute_vector`.
    """
    vector = attribute_vector(model, images, labels, attribute_class)
    base = _single_image_batch(base_images, "base_images")
    z_base = encode_means(model, base)
    scales = np.asarray(scales, dtype="float32")
    z = z_base[:, None, :] + scales[None, :, None] * vector[None, None, :]
    decoded = np.asarray(model.decode(z.reshape(-1, z.shape[-1]))).reshape((len(base), len(scales)) + base.shape[1:])
    tiles = np.concatenate([base[:, None], decoded], axis=1)
    name = class_names[int(attribute_class)] if class_names is not None else f"class {attribute_class}"
    fig = labelled_grid(
        tiles.reshape((-1,) + base.shape[1:]),
        rows=len(base),
        cols=tiles.shape[1],
        title=f"z + s * v, v = mean z[{name}] - mean z[others]",
        col_labels=["input"] + [f"{s:g}" for s in scales],
        xlabel="s",
        tile_inches=tile_inches,
    )
    fig.attribute_vector = vector
    return fig


def plot_latent_traversals(model, image, dims=None, values=np.linspace(-3, 3, 9), max_dims=10, tile_inches=0.5):
    """Returns decodings with one latent dimension set to each of `values`, the others at z_mean(image).

    One row per dimension (Higgins et al. 2017, beta-VAE). With `dims=None` all
    dimensions are shown when there are at most `max_dims`, else the `max_dims`
    dimensions with the smallest posterior variance for `image` (the most informative ones).
    """
    x = _single_image_batch(image, "image")[:1]
    encoded = model.encode(x)
    z_mean = _z_mean(encoded)[0]
    latent_dim = len(z_mean)
    if dims is None:
        if latent_dim <= max_dims:
            dims = list(range(latent_dim))
        else:
            log_var = np.asarray(encoded[1])[0] if isinstance(encoded, (tuple, list)) else np.zeros(latent_dim)
            dims = sorted(np.argsort(log_var, kind="stable")[:max_dims].tolist())
    dims = [int(d) for d in dims]
    if not dims or not all(0 <= d < latent_dim for d in dims):
        raise ValueError(f"dims must be latent dimensions in [0, {latent_dim}), got {dims}.")
    values = np.asarray(values, dtype="float32")
    z = np.repeat(np.repeat(z_mean[None, None, :], len(dims), axis=0), len(values), axis=1)
    for row, d in enumerate(dims):
        z[row, :, d] = values
    decoded = np.asarray(model.decode(z.reshape(-1, latent_dim)))
    fig = labelled_grid(
        decoded,
        rows=len(dims),
        cols=len(values),
        title="Latent traversals: one dimension set to each value, others at z_mean",
        row_labels=[f"z[{d}]" for d in dims],
        col_labels=[f"{v:g}" for v in values],
        xlabel="value",
        tile_inches=tile_inches,
    )
    fig.traversal_points = z
    return fig


# Training curves ----------------------------------------------------------------------

CURVES = (("elbo", "ELBO"), ("reconstruction", "reconstruction log p(x|z)"), ("kl", "KL(q(z|x) || p(z))"))


def read_history(path):
    """Returns history.csv (keras.callbacks.CSVLogger) as a dict column -> list of floats."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} has no epochs.")
    history = {}
    for key in rows[0]:
        try:
            history[key] = [float(row[key]) if row[key] not in ("", None) else float("nan") for row in rows]
        except ValueError:
            continue  # a non-numeric column
    return history


def plot_training_curves(history):
    """Returns ELBO, reconstruction and KL (nats per example) against epoch; val_ curves dashed.

    Args:
        history: path of a `history.csv` written by `keras.callbacks.CSVLogger`, or a
            dict of lists (`model.fit(...).history`). A "beta" column adds a fourth panel.
    """
    if isinstance(history, (str, os.PathLike)):
        history = read_history(history)
    history = {k: list(map(float, v)) for k, v in dict(history).items()}
    panels = [(key, name) for key, name in CURVES if key in history or f"val_{key}" in history]
    if not panels:
        raise ValueError(f"The history has none of the columns {[k for k, _ in CURVES]}; it has {sorted(history)}.")
    if "beta" in history:
        panels.append(("beta", "beta (KL weight)"))
    length = max(len(history.get(k, history.get(f"val_{k}", []))) for k, _ in panels)
    epochs = np.asarray(history["epoch"]) + 1 if "epoch" in history else np.arange(1, length + 1)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 2.6), squeeze=False)
    for ax, (key, name) in zip(axes[0], panels):
        for prefix, style, label in (("", "-", "train"), ("val_", "--", "test")):
            if prefix + key in history:
                values = history[prefix + key]
                ax.plot(epochs[: len(values)], values, style, marker="." if len(values) < 30 else None, label=label)
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
        if key != "beta":
            ax.legend(fontsize=6)
    axes[0][0].set_ylabel("nats per example", fontsize=7)
    fig.tight_layout()
    return fig
