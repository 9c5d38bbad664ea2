"""Image-grid figures: arrays from `keras_vae.plotting.compute` drawn with `image_grid`.

Every figure is a `matplotlib.figure.Figure` built without pyplot, so nothing here
touches matplotlib's backend or global figure list: a figure is written with
`save_figure`, and displays itself in Jupyter once `%matplotlib inline` has run.
"""

import numpy as np
from matplotlib.figure import Figure

from keras_vae.plotting import compute
from keras_vae.plotting.tiles import as_image_batch, interleave_rows, tile_images

# Fixed margins in inches around the tiles, so tiles keep their size whatever the labels.
TITLE_INCHES, ROW_LABEL_INCHES, COL_LABEL_INCHES = 0.3, 0.75, 0.45


def _tick_positions(count, size, padding=1):
    """Centres of `count` tiles of `size` pixels in a tiled grid."""
    return [i * (size + padding) + (size - 1) / 2 for i in range(count)]


def _every(labels, max_labels=12):
    """Keeps about `max_labels` of the tick labels (blanks the others) so they stay readable."""
    step = max(1, -(-len(labels) // max_labels))
    return [label if i % step == 0 or i == len(labels) - 1 else "" for i, label in enumerate(labels)]


def image_grid(
    images, rows, cols, title=None, *, row_labels=None, col_labels=None, xlabel=None, ylabel=None, tile_inches=0.5
):
    """Returns a figure of `images` in [0, 1] tiled `rows` x `cols`, row by row, with optional labels.

    The one grid builder behind every image figure. Margins are fixed in inches: a
    tile is `tile_inches` wide (and high in proportion to the images); row labels or
    a y label add 0.75 in on the left, column labels or an x label 0.45 in below,
    a title 0.3 in above.

    Args:
        images: array (N, H, W) or (N, H, W, C): C = 1 (grey), 3 (RGB), 4 (RGBA), or any other
            count drawn as grey panels side by side (`tiles.as_image_batch`).
        rows: int. Grid rows.
        cols: int. Grid columns.
        title: str or None, default None.
        row_labels: sequence of `rows` str or None, default None. Tick labels of the rows.
        col_labels: sequence of `cols` str or None, default None. Tick labels of the columns.
        xlabel, ylabel: str or None, default None. Axis titles.
        tile_inches: float, default 0.5. Width of one tile in inches.

    Example:
    >>> fig = image_grid(np.zeros((6, 28, 28)), rows=2, cols=3, title="zeros", col_labels=["a", "b", "c"])
    >>> fig.get_size_inches().round(2).tolist()
    [1.5, 1.75]
    """
    images = as_image_batch(images)
    height, width = images.shape[1:3]
    tile_w, tile_h = tile_inches, tile_inches * height / width
    left = ROW_LABEL_INCHES if (row_labels is not None or ylabel) else 0.0
    bottom = COL_LABEL_INCHES if (col_labels is not None or xlabel) else 0.0
    top = TITLE_INCHES if title else 0.0
    fig_w, fig_h = cols * tile_w + left, rows * tile_h + bottom + top
    fig = Figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes([left / fig_w, bottom / fig_h, cols * tile_w / fig_w, rows * tile_h / fig_h])
    ax.imshow(tile_images(images, rows, cols), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="auto")
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


def _flat(images):
    """(rows, cols, ...) images as (rows * cols, ...), the order `image_grid` tiles them."""
    return images.reshape((-1,) + images.shape[2:])


#: The temperatures of samples.png for kinds with `samples_at_temperature` (flows).
SAMPLE_TEMPERATURES = (1.0, 0.7)


def plot_samples(model, n=64, seed=0, cols=8, condition=None, title=None, draw=False, temperature=1.0, temperatures=None):
    """Returns a grid of E[x|z] (or of draws x ~ p(x|z)) for `n` prior draws, `model.sample(n, seed, condition, ...)`.

    Args:
        model: a model of the model contract that `can(PRIOR)`.
        n: int, default 64.
        seed: int, default 0. The same seed gives the same figure.
        cols: int, default 8. Images per row.
        condition: array (n,) or (n, dim), or None. A class-conditional model cycles
            through its classes when None (the contract's default).
        title: str or None, default None ("Samples from the prior (seed ...)").
        draw: bool, default False. Show draws x ~ p(x|z) instead of E[x|z].
        temperature: float, default 1.0. Kinds with `samples_at_temperature` (flows) take others.
        temperatures: sequence of float or None, default None. Several temperatures: n // len
            draws at each (the same noise), one block of rows per temperature, labelled "T=...".

    Example:
    >>> from keras_vae.models import build_vae
    >>> plot_samples(build_vae((8, 8, 1), latent_dim=2), n=16).get_size_inches().tolist()
    [4.0, 1.3]
    """
    if temperatures is not None:
        per = max(cols, (n // len(temperatures)) // cols * cols)
        images = np.concatenate([np.asarray(model.sample(per, seed=seed, temperature=t)) for t in temperatures])
        labels = [f"T={t:g}" if r % (per // cols) == 0 else "" for t in temperatures for r in range(per // cols)]
        title = f"Samples from the prior at temperatures {', '.join(f'{t:g}' for t in temperatures)} (seed {seed})" if (
            title is None) else title
        return image_grid(images, rows=len(labels), cols=cols, title=title, row_labels=labels)
    images = np.asarray(model.sample(n, seed=seed, condition=condition, temperature=temperature, draw=draw))
    if title is None:
        what = "Draws x ~ p(x|z)" if draw else "Samples from the prior"
        title = f"{what} (seed {seed})" if float(temperature) == 1.0 else (
            f"{what} at temperature {temperature:g} (seed {seed})")
    return image_grid(images, rows=-(-n // cols), cols=cols, title=title)


def plot_class_samples(model, per_class=8, seed=0, class_names=None, tile_inches=0.5):
    """Returns a class-conditional model's samples, one row per class, the same z down each column.

    Args:
        model: a model of the model contract with `num_classes` and a prior.
        per_class: int, default 8. Samples (columns) per class.
        seed: int, default 0. Seed of the prior draws; the same seed gives the same figure.
        class_names: sequence of `num_classes` str or None (the class ids).
        tile_inches: float, default 0.5.

    Example:
    >>> from keras_vae.models import build_model
    >>> model = build_model("cvae", (8, 8, 1), latent_dim=2, num_classes=3)
    >>> plot_class_samples(model, per_class=4).get_size_inches().tolist()
    [2.75, 2.25]
    """
    images = compute.class_samples(model, per_class, seed)
    num_classes, per_class = images.shape[:2]
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for {num_classes} classes.")
    return image_grid(
        _flat(images),
        rows=num_classes,
        cols=per_class,
        title=f"Samples per class, the same z down each column (seed {seed})",
        row_labels=list(class_names) if class_names is not None else [str(k) for k in range(num_classes)],
        col_labels=[f"z{j}" for j in range(per_class)],
        tile_inches=tile_inches,
    )


def plot_class_analogies(model, images, condition, class_names=None, tile_inches=0.5):
    """Returns the analogy figure: each row a test image (left), then its z decoded under every class.

    Args:
        model: a class-conditional model (`num_classes`) of the model contract.
        images: array (N, *data_shape), one row each.
        condition: int labels (N,) of the images (z is inferred with them).
        class_names: sequence of `num_classes` str or None (the class ids).
        tile_inches: float, default 0.5.

    Example:
    >>> from keras_vae.models import build_model
    >>> model = build_model("cvae", (8, 8, 1), latent_dim=2, num_classes=3)
    >>> plot_class_analogies(model, np.zeros((2, 8, 8, 1)), np.array([0, 1])).get_size_inches().tolist()
    [2.0, 1.75]
    """
    analogies = compute.class_analogies(model, images, condition)
    n, k = analogies.shape[:2]
    rows = np.concatenate([np.asarray(images, "float32")[:, None], analogies], axis=1)
    names = list(class_names) if class_names is not None else [str(c) for c in range(k)]
    return image_grid(
        _flat(rows),
        rows=n,
        cols=k + 1,
        title="Analogies: each image's z (style) decoded under every class",
        col_labels=["input"] + names,
        tile_inches=tile_inches,
    )


def plot_reconstructions(model, images, originals=None, cols=8, condition=None):
    """Returns inputs above their reconstructions `model.reconstruct(x, condition)`, in alternating rows.

    Args:
        model: a model of the model contract.
        images: array (N, H, W, C) in [0, 1], the inputs the model sees; N is
            rounded down to a multiple of `cols` (at least `cols`).
        originals: array like `images` or None, default None. Grey images that
            `images` were binarized from; when given, each group of rows shows
            original, model input, reconstruction.
        cols: int, default 8.
        condition: array (N,) or (N, dim), or None. The images' conditions.

    Example:
    >>> from keras_vae.models import build_vae
    >>> fig = plot_reconstructions(build_vae((8, 8, 1), latent_dim=2), np.zeros((8, 8, 8, 1)))
    >>> fig.get_size_inches().tolist()
    [4.0, 1.3]
    """
    images = np.asarray(images, dtype="float32")
    cols = max(1, min(cols, len(images)))  # a small held-out split may have fewer images
    n = (len(images) // cols) * cols
    groups = [images[:n], compute.reconstructions(model, images[:n], None if condition is None else condition[:n])]
    labels = ["inputs", "reconstructions"]
    if originals is not None:
        groups.insert(0, np.asarray(originals, dtype="float32")[:n])
        labels.insert(0, "originals")
    tiles = interleave_rows(groups, cols)
    title = ", ".join(labels).capitalize() + " in turn, row by row"
    return image_grid(tiles, rows=len(tiles) // cols, cols=cols, title=title)


def plot_latent_manifold(model, n=15, dims=(0, 1), quantile_range=(0.05, 0.95), tile_inches=0.5, condition=None):
    """Returns the learned manifold: E[x | z, c] decoded on an n x n grid of two latent dimensions.

    The grid values are quantiles of N(0, 1) (`compute.latent_manifold`), the other
    dimensions 0; tick labels give the z values.

    Args:
        model, n, dims, quantile_range, condition: as `compute.latent_manifold`.
        tile_inches: float, default 0.5.

    Example:
    >>> from keras_vae.models import build_vae
    >>> plot_latent_manifold(build_vae((8, 8, 1), latent_dim=2), n=5).get_size_inches().tolist()
    [3.25, 3.25]
    """
    manifold = compute.latent_manifold(model, n, dims, quantile_range, condition)
    labels = [f"{v:.2f}" for v in manifold.values]
    return image_grid(
        manifold.images,
        rows=len(labels),
        cols=len(labels),
        title=f"Decoded latent grid, quantiles {quantile_range[0]:g}-{quantile_range[1]:g} of N(0, 1)",
        row_labels=labels[::-1],
        col_labels=labels,
        xlabel=f"z[{manifold.dims[0]}]",
        ylabel=f"z[{manifold.dims[1]}]",
        tile_inches=tile_inches,
    )


def plot_interpolation(model, image_a, image_b, steps=10, show_inputs=True, tile_inches=0.5, condition=None):
    """Returns decodings of z = (1 - t) z_A + t z_B between the codes of image pairs, one row per pair.

    Args:
        model, image_a, image_b, steps, condition: as `compute.latent_interpolation`.
        show_inputs: bool, default True. Put the two inputs at the ends of each row.
        tile_inches: float, default 0.5.

    Example:
    >>> from keras_vae.models import build_vae
    >>> fig = plot_interpolation(build_vae((8, 8, 1), latent_dim=2), np.zeros((2, 8, 8, 1)), np.ones((2, 8, 8, 1)), 4)
    >>> fig.get_size_inches().tolist()
    [3.0, 1.75]
    """
    path = compute.latent_interpolation(model, image_a, image_b, steps, condition)
    tiles, col_labels = path.images, [f"{v:.2f}" for v in path.t]
    if show_inputs:
        a, b = (np.asarray(image, "float32").reshape(path.images[:, 0].shape) for image in (image_a, image_b))
        tiles = np.concatenate([a[:, None], tiles, b[:, None]], axis=1)
        col_labels = ["A"] + col_labels + ["B"]
    return image_grid(
        _flat(tiles),
        rows=tiles.shape[0],
        cols=tiles.shape[1],
        title="Interpolation between codes: (1 - t) z_A + t z_B",
        col_labels=col_labels,
        xlabel="t",
        tile_inches=tile_inches,
    )


def plot_attribute_arithmetic(
    model,
    images,
    labels,
    attribute_class,
    base_images,
    scales=(0, 0.5, 1, 1.5, 2),
    class_names=None,
    tile_inches=0.5,
    condition=None,
    base_condition=None,
):
    """Returns decodings of z_base + s * v for an attribute vector v, one row per base image.

    v = mean code of `images` whose label is `attribute_class` minus the mean of the
    others (`compute.attribute_vector`); the first column shows the base image itself.

    Args:
        model, images, labels, attribute_class, base_images, scales, condition,
            base_condition: as `compute.attribute_arithmetic`.
        class_names: sequence of str indexed by label, or None.
        tile_inches: float, default 0.5.

    Example:
    >>> from keras_vae.models import build_vae
    >>> fig = plot_attribute_arithmetic(
    ...     build_vae((8, 8, 1), latent_dim=2), np.zeros((4, 8, 8, 1)), [0, 1, 1, 0], 1, np.zeros((8, 8, 1)), (0, 1))
    >>> fig.get_size_inches().tolist()
    [1.5, 1.25]
    """
    result = compute.attribute_arithmetic(
        model, images, labels, attribute_class, base_images, scales, condition, base_condition
    )
    base = np.asarray(base_images, "float32").reshape(result.images[:, 0].shape)
    tiles = np.concatenate([base[:, None], result.images], axis=1)
    name = class_names[int(attribute_class)] if class_names is not None else f"class {attribute_class}"
    return image_grid(
        _flat(tiles),
        rows=tiles.shape[0],
        cols=tiles.shape[1],
        title=f"z + s * v, v = mean z[{name}] - mean z[others]",
        col_labels=["input"] + [f"{s:g}" for s in result.scales],
        xlabel="s",
        tile_inches=tile_inches,
    )


def plot_latent_traversals(
    model, image, dims=None, values=np.linspace(-3, 3, 9), max_dims=10, tile_inches=0.5, condition=None
):
    """Returns decodings with one latent dimension set to each of `values`, the others at the image's code.

    One row per dimension; which dimensions by default: see `compute.latent_traversals`.

    Args:
        model, image, dims, values, max_dims, condition: as `compute.latent_traversals`.
        tile_inches: float, default 0.5.

    Example:
    >>> from keras_vae.models import build_vae
    >>> fig = plot_latent_traversals(build_vae((8, 8, 1), latent_dim=3), np.zeros((8, 8, 1)), values=[-1, 0, 1])
    >>> fig.get_size_inches().tolist()
    [2.25, 2.25]
    """
    sweep = compute.latent_traversals(model, image, dims, values, max_dims, condition)
    return image_grid(
        _flat(sweep.images),
        rows=len(sweep.dims),
        cols=len(sweep.values),
        title="Latent traversals: one dimension set to each value, others at the image's code",
        row_labels=[f"z[{d}]" for d in sweep.dims],
        col_labels=[f"{v:g}" for v in sweep.values],
        xlabel="value",
        tile_inches=tile_inches,
    )


def plot_kl_sorted_traversals(model, image, kl, values=np.linspace(-3, 3, 9), max_dims=10, tile_inches=0.5):
    """Returns latent traversals of the `max_dims` units of largest KL, one row per unit, largest first.

    The row label gives each unit's KL in nats (`compute.unit_kl`): the units a beta-VAE
    keeps active come first, the collapsed ones (near 0 nats, the decoder ignores them) last.

    Args:
        model: a model with a prior.
        image: one example; its code is the traversals' centre.
        kl: array (latent_dim,), KL per unit in nats.
        values, max_dims, tile_inches: as `plot_latent_traversals`.

    Example:
    >>> from keras_vae.models import build_vae
    >>> fig = plot_kl_sorted_traversals(build_vae((8, 8, 1), latent_dim=3), np.zeros((8, 8, 1)), [0.1, 2.0, 0.5])
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()][0]
    'z[1] 2.00'
    """
    kl = np.asarray(kl, dtype=float)
    dims = [int(d) for d in np.argsort(-kl, kind="stable")[: int(max_dims)]]
    sweep = compute.latent_traversals(model, image, dims, values)
    return image_grid(
        _flat(sweep.images),
        rows=len(sweep.dims),
        cols=len(sweep.values),
        title="Latent traversals by KL (nats): largest first",
        row_labels=[f"z[{d}] {kl[d]:.2f}" for d in sweep.dims],
        col_labels=[f"{v:g}" for v in sweep.values],
        xlabel="value",
        tile_inches=tile_inches,
    )
