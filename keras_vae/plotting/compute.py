"""What the figures show, computed as NumPy arrays: codes, latent grids, paths, vectors, samples.

Every function asks the model only for what the model contract offers (`embed`,
`decode`, `reconstruct`, `sample`, `latent_dim`, `data_shape`, `num_classes`), so it
works the same for every model kind. `condition` arguments follow the contract:
None for an unconditional model, the images' labels (N,) or vectors (N, dim) for a
conditional one. Nothing here draws; `keras_vae.plotting.figures` turns these arrays
into figures.
"""

import statistics
from typing import NamedTuple

import numpy as np

BATCH_SIZE = 500  # images per embed / decode call: bounded memory for any number of images


def _take(condition, index):
    """`condition[index]`, or None for an unconditional model."""
    return None if condition is None else np.asarray(condition)[index]


def _repeat(condition, n):
    """One condition (a label or a vector) repeated for `n` points, or None."""
    return None if condition is None else np.repeat(np.asarray(condition)[None], n, axis=0)


def _batch_of(model, images):
    """`images` as a float32 batch: one example of `model.data_shape` gets a batch axis."""
    images = np.asarray(images, dtype="float32")
    return images[None] if images.ndim == len(model.data_shape) else images


def _in_batches(function, inputs, condition, batch_size=BATCH_SIZE):
    """Concatenates `function(inputs[i:j], condition[i:j])` over batches, as a NumPy array."""
    parts = [
        np.asarray(function(inputs[start : start + batch_size], _take(condition, slice(start, start + batch_size))))
        for start in range(0, len(inputs), batch_size)
    ]
    return np.concatenate(parts, axis=0)


def _check_condition(condition, n, what):
    if condition is not None and len(condition) != n:
        raise ValueError(f"{len(condition)} conditions for {n} {what}.")


def latent_codes(model, images, condition=None, batch_size=BATCH_SIZE):
    """Returns the codes `model.embed(x, condition)` of `images` as one array (N, latent_dim).

    The code is the posterior mean for a VAE and the encoder's output for an
    autoencoder; scatter plots, interpolations and attribute vectors all start from it.

    Args:
        model: a model of the model contract.
        images: array (N, ...) of the model's data shape.
        condition: array (N,) or (N, dim), or None (unconditional model). Each image's condition.
        batch_size: int, default 500. Images per `embed` call.

    Example:
    >>> from keras_vae.models import build_vae
    >>> latent_codes(build_vae((8, 8, 1), latent_dim=2), np.zeros((3, 8, 8, 1))).shape
    (3, 2)
    """
    images = np.asarray(images, dtype="float32")
    if len(images) == 0:
        raise ValueError("No images to encode.")
    _check_condition(condition, len(images), "images")
    return _in_batches(model.embed, images, condition, batch_size).reshape(len(images), -1)


def decoded(model, codes, condition=None, batch_size=BATCH_SIZE):
    """Returns `model.decode(z, condition)` (E[x | z, c]) of codes (..., latent_dim), shaped (..., *data_shape).

    Args:
        model: a model of the model contract.
        codes: array (..., latent_dim).
        condition: array with the leading shape of `codes` (labels, or vectors with a
            trailing dim), or None.
        batch_size: int, default 500. Codes per `decode` call.
    """
    codes = np.asarray(codes, dtype="float32")
    lead = codes.shape[:-1]
    flat = codes.reshape(-1, codes.shape[-1])
    if condition is not None:
        condition = np.asarray(condition)
        condition = condition.reshape((len(flat),) + condition.shape[len(lead) :])
    images = _in_batches(model.decode, flat, condition, batch_size)
    return images.reshape(lead + images.shape[1:])


def reconstructions(model, images, condition=None, batch_size=BATCH_SIZE):
    """Returns `model.reconstruct(x, condition)` of `images`, in batches.

    Example:
    >>> from keras_vae.models import build_vae
    >>> reconstructions(build_vae((8, 8, 1), latent_dim=2), np.zeros((3, 8, 8, 1))).shape
    (3, 8, 8, 1)
    """
    images = np.asarray(images, dtype="float32")
    _check_condition(condition, len(images), "images")
    return _in_batches(model.reconstruct, images, condition, batch_size)


def class_samples(model, per_class=8, seed=0):
    """Returns a class-conditional model's samples (num_classes, per_class, ...), one row per class.

    Row k is `model.sample(per_class, seed, condition=k)`. The model draws z from
    the seed alone, so column j holds the same prior draw z_j decoded under every
    class: a row shows what z (the "style") varies, a column what the class changes.

    Args:
        model: a model of the model contract with `num_classes` and a prior.
        per_class: int, default 8. Samples per class.
        seed: int, default 0. Seed of the prior draws.

    Example:
    >>> from keras_vae.models import build_model
    >>> class_samples(build_model("cvae", (8, 8, 1), latent_dim=2, num_classes=3), per_class=4).shape
    (3, 4, 8, 8, 1)
    """
    if not model.num_classes:
        raise ValueError("class samples need a class-conditional model (num_classes); this model has no classes.")
    if int(per_class) < 1:
        raise ValueError(f"per_class must be a positive integer, got {per_class}.")
    per_class = int(per_class)
    return np.stack(
        [
            np.asarray(model.sample(per_class, seed=seed, condition=np.full(per_class, k)))
            for k in range(model.num_classes)
        ]
    )


def class_analogies(model, images, condition):
    """Returns each image's z decoded under every class, (N, num_classes, ...): style kept, class changed.

    The analogies of Kingma et al. (2014, figure 1): z = `model.embed(x, condition)`
    (a class-conditional model infers z given the image's own label), then
    `model.decode(z, k)` for every class k.

    Args:
        model: a class-conditional model of the model contract (`num_classes`).
        images: array (N, *data_shape).
        condition: int labels (N,) of the images.

    Example:
    >>> from keras_vae.models import build_model
    >>> model = build_model("cvae", (8, 8, 1), latent_dim=2, num_classes=3)
    >>> class_analogies(model, np.zeros((2, 8, 8, 1)), np.array([0, 2])).shape
    (2, 3, 8, 8, 1)
    """
    if not model.num_classes:
        raise ValueError("class analogies need a class-conditional model (num_classes); this model has no classes.")
    k = int(model.num_classes)
    codes = latent_codes(model, images, condition)  # (N, latent_dim)
    tiled = np.repeat(codes[:, None, :], k, axis=1)  # (N, K, latent_dim)
    classes = np.tile(np.arange(k), (len(codes), 1))
    return decoded(model, tiled, classes)


# The decoded latent grid ----------------------------------------------------------------


def quantile_grid(n=15, quantile_range=(0.05, 0.95)):
    """Returns `n` latent values at equally spaced quantiles of N(0, 1), ascending.

    Kingma and Welling (2013, figure 4) decode z = (Phi^-1(q1), Phi^-1(q2)) on
    such a grid, so each tile covers the same prior probability mass.

    Example:
    >>> [round(float(v), 3) for v in quantile_grid(3, (0.1, 0.9))]
    [-1.282, 0.0, 1.282]
    """
    low, high = (float(q) for q in quantile_range)
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"quantile_range must satisfy 0 < low < high < 1, got {tuple(quantile_range)}.")
    if int(n) < 1:
        raise ValueError(f"n must be a positive integer, got {n}.")
    normal = statistics.NormalDist()
    return np.array([normal.inv_cdf(q) for q in np.linspace(low, high, int(n))], dtype="float32")


def manifold_points(latent_dim, n=15, dims=(0, 1), quantile_range=(0.05, 0.95)):
    """Returns the latent points (n * n, latent_dim) of the decoded grid, row by row.

    Row r, column c of the grid holds z[dims[0]] = values[c] (left to right, ascending)
    and z[dims[1]] = values[n - 1 - r] (top to bottom, descending), with the values
    of `quantile_grid`; the other dimensions are 0, the prior's mean.

    Example:
    >>> np.sign(manifold_points(3, n=2, dims=(2, 0))).tolist()  # z[2] left to right, z[0] top to bottom
    [[1.0, 0.0, -1.0], [1.0, 0.0, 1.0], [-1.0, 0.0, -1.0], [-1.0, 0.0, 1.0]]
    """
    dims = tuple(int(d) for d in dims)
    if len(dims) != 2 or dims[0] == dims[1] or not all(0 <= d < latent_dim for d in dims):
        raise ValueError(f"dims must be two different latent dimensions in [0, {latent_dim}), got {dims}.")
    values = quantile_grid(n, quantile_range)
    points = np.zeros((len(values), len(values), latent_dim), dtype="float32")
    points[:, :, dims[0]] = values[None, :]
    points[:, :, dims[1]] = values[::-1, None]
    return points.reshape(-1, latent_dim)


class LatentManifold(NamedTuple):
    """A decoded latent grid: `values` (n,) ascending, `points` (n * n, latent_dim) and `images` in tile order."""

    values: np.ndarray
    points: np.ndarray
    images: np.ndarray
    dims: tuple


def latent_manifold(model, n=15, dims=(0, 1), quantile_range=(0.05, 0.95), condition=None):
    """Returns the learned manifold: E[x | z, c] decoded on an n x n grid of two latent dimensions.

    Args:
        model: a model of the model contract (a prior gives the grid its meaning).
        n: int, default 15. Values per axis.
        dims: two ints, default (0, 1). The latent dimensions of the x and y axes.
        quantile_range: (low, high), default (0.05, 0.95). Quantiles of N(0, 1) spanned.
        condition: one label (int) or vector (dim,) for the whole grid, or None
            (unconditional model).

    Example:
    >>> from keras_vae.models import build_vae
    >>> latent_manifold(build_vae((8, 8, 1), latent_dim=2), n=5).images.shape
    (25, 8, 8, 1)
    """
    points = manifold_points(model.latent_dim, n, dims, quantile_range)
    images = decoded(model, points, _repeat(condition, len(points)))
    return LatentManifold(quantile_grid(n, quantile_range), points, images, tuple(int(d) for d in dims))


# Paths and directions in the latent space ------------------------------------------------


class Interpolation(NamedTuple):
    """Straight latent paths: `t` (steps,), `codes` (pairs, steps, latent_dim), `images` (pairs, steps, ...)."""

    t: np.ndarray
    codes: np.ndarray
    images: np.ndarray


def latent_interpolation(model, image_a, image_b, steps=10, condition=None):
    """Returns decodings of z = (1 - t) z_A + t z_B between the codes of pairs of images.

    Args:
        model: a model of the model contract.
        image_a, image_b: one example each, or batches (P, ...) of P pairs.
        steps: int, default 10. Points on each path, t = 0, ..., 1.
        condition: array (P,) or (P, dim), or None. One condition per pair, shared
            by both ends: A and B are embedded under it and the path is decoded under it
            (for a class-conditional model, a path within one class).

    Example:
    >>> from keras_vae.models import build_vae
    >>> path = latent_interpolation(build_vae((8, 8, 1), latent_dim=2), np.zeros((8, 8, 1)), np.ones((8, 8, 1)), 3)
    >>> path.t.tolist(), path.codes.shape, path.images.shape
    ([0.0, 0.5, 1.0], (1, 3, 2), (1, 3, 8, 8, 1))
    """
    a, b = _batch_of(model, image_a), _batch_of(model, image_b)
    if a.shape != b.shape:
        raise ValueError(f"image_a and image_b differ in shape: {a.shape} and {b.shape}.")
    if int(steps) < 2:
        raise ValueError(f"steps must be at least 2, got {steps}.")
    z_a, z_b = latent_codes(model, a, condition), latent_codes(model, b, condition)
    t = np.linspace(0.0, 1.0, int(steps), dtype="float32")
    codes = (1 - t)[None, :, None] * z_a[:, None, :] + t[None, :, None] * z_b[:, None, :]
    path_condition = None if condition is None else np.repeat(np.asarray(condition)[:, None], len(t), axis=1)
    return Interpolation(t, codes, decoded(model, codes, path_condition))


def attribute_vector(model, images, labels, attribute_class, condition=None):
    """Returns v = mean code of the images of `attribute_class` - mean code of the others (latent_dim,).

    White (2016, "Sampling generative networks") adds such vectors to codes to add an attribute.

    Args:
        model: a model of the model contract.
        images: array (N, ...).
        labels: int array (N,). Each image's class.
        attribute_class: int. The class whose images have the attribute.
        condition: array (N,) or (N, dim), or None. The images' conditions when embedding.

    Example:
    >>> from keras_vae.models import build_vae
    >>> attribute_vector(build_vae((8, 8, 1), latent_dim=2), np.zeros((4, 8, 8, 1)), [0, 1, 1, 0], 1).shape
    (2,)
    """
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images.")
    mask = labels == attribute_class
    if not mask.any() or mask.all():
        raise ValueError(
            f"The attribute vector needs images with and without class {attribute_class!r}; "
            f"got {int(mask.sum())} of {len(labels)} with it."
        )
    codes = latent_codes(model, images, condition)
    return codes[mask].mean(axis=0) - codes[~mask].mean(axis=0)


class AttributeArithmetic(NamedTuple):
    """z_base + s * v: the `vector` v, `scales` (S,), `codes` (bases, S, latent_dim) and `images` (bases, S, ...)."""

    vector: np.ndarray
    scales: np.ndarray
    codes: np.ndarray
    images: np.ndarray


def attribute_arithmetic(
    model, images, labels, attribute_class, base_images, scales=(0, 0.5, 1, 1.5, 2), condition=None, base_condition=None
):
    """Returns decodings of z_base + s * v for the `attribute_vector` v and each scale s.

    Args:
        model: a model of the model contract.
        images, labels, attribute_class, condition: as `attribute_vector`.
        base_images: one example or a batch (P, ...). The codes the vector is added to.
        scales: sequence of float, default (0, 0.5, 1, 1.5, 2).
        base_condition: array (P,) or (P, dim), or None. The base images' conditions,
            used to embed them and to decode their arithmetic.

    Example:
    >>> from keras_vae.models import build_vae
    >>> result = attribute_arithmetic(
    ...     build_vae((8, 8, 1), latent_dim=2), np.zeros((4, 8, 8, 1)), [0, 1, 1, 0], 1, np.zeros((8, 8, 1)), (0, 1))
    >>> result.codes.shape, result.images.shape
    ((1, 2, 2), (1, 2, 8, 8, 1))
    """
    vector = attribute_vector(model, images, labels, attribute_class, condition)
    base = _batch_of(model, base_images)
    scales = np.asarray(scales, dtype="float32")
    codes = latent_codes(model, base, base_condition)[:, None, :] + scales[None, :, None] * vector[None, None, :]
    code_condition = None if base_condition is None else np.repeat(np.asarray(base_condition)[:, None], len(scales), 1)
    return AttributeArithmetic(vector, scales, codes, decoded(model, codes, code_condition))


class LatentTraversals(NamedTuple):
    """One latent dimension swept: `dims` (D,), `values` (V,), `codes` (D, V, latent_dim), `images` (D, V, ...)."""

    dims: list
    values: np.ndarray
    codes: np.ndarray
    images: np.ndarray


def latent_traversals(model, image, dims=None, values=np.linspace(-3, 3, 9), max_dims=10, condition=None):
    """Returns decodings with one latent dimension set to each of `values`, the others at the image's code.

    One row per dimension (Higgins et al. 2017, beta-VAE). With `dims=None` every
    dimension is swept when there are at most `max_dims`; otherwise the `max_dims`
    dimensions along which the decoded image changes most (largest pixel variance
    across `values`, mean over pixels). A dimension the decoder ignores (an inactive
    unit) changes nothing, so this keeps the informative ones, for any model kind.

    Args:
        model: a model of the model contract.
        image: one example (or a batch, of which the first is used).
        dims: sequence of int or None, default None.
        values: sequence of float, default 9 values from -3 to 3.
        max_dims: int, default 10.
        condition: a label (int) or vector (dim,) of the image, or None (unconditional).
            The image is embedded and every traversal decoded under it.

    Example:
    >>> from keras_vae.models import build_vae
    >>> sweep = latent_traversals(build_vae((8, 8, 1), latent_dim=3), np.zeros((8, 8, 1)), values=[-1, 1])
    >>> sweep.dims, sweep.images.shape
    ([0, 1, 2], (3, 2, 8, 8, 1))
    """
    x = _batch_of(model, image)[:1]
    code = latent_codes(model, x, _repeat(condition, 1))[0]
    latent_dim = len(code)
    values = np.asarray(values, dtype="float32")
    candidates = list(range(latent_dim)) if dims is None else [int(d) for d in dims]
    if not candidates or not all(0 <= d < latent_dim for d in candidates):
        raise ValueError(f"dims must be latent dimensions in [0, {latent_dim}), got {candidates}.")
    codes = np.repeat(np.repeat(code[None, None, :], len(candidates), axis=0), len(values), axis=1)
    for row, d in enumerate(candidates):
        codes[row, :, d] = values
    images = decoded(model, codes, _repeat(_repeat(condition, len(values)), len(candidates)))
    if dims is None and latent_dim > max_dims:
        change = images.reshape(len(candidates), len(values), -1).var(axis=1).mean(axis=1)
        keep = np.sort(np.argsort(-change, kind="stable")[: int(max_dims)])
        candidates, codes, images = [candidates[i] for i in keep], codes[keep], images[keep]
    return LatentTraversals(candidates, values, codes, images)


def unit_kl(model, images, batch_size=BATCH_SIZE):
    """Returns each latent unit's KL(q(z_d|x) || p(z_d)) in nats, averaged over `images`, (latent_dim,).

    For models with a bound (`model.can(BOUND)`) whose posterior and prior factorise over the
    latent dimensions (`objectives.per_dimension_kl`: analytic for the diagonal Gaussian and
    N(0, I)); a unit near 0 nats is inactive (its posterior is the prior).

    Example:
    >>> from keras_vae.models import build_vae
    >>> unit_kl(build_vae((8, 8, 1), latent_dim=3), np.zeros((4, 8, 8, 1))).shape
    (3,)
    """
    from keras_vae import objectives

    x = _batch_of(model, images)
    total = np.zeros(model.latent_dim)
    for start in range(0, len(x), batch_size):
        chunk = x[start : start + batch_size]
        eps = np.zeros((1, len(chunk), model.noise_dim), dtype="float32")
        terms = model.bound_terms(chunk, eps)
        total += np.asarray(objectives.per_dimension_kl(terms), dtype=np.float64).sum(axis=0)
    return total / len(x)


def project_2d(codes):
    """Returns (N, 2) coordinates and axis names: z itself when latent_dim <= 2, else PCA (NumPy SVD).

    The principal components' signs are fixed (largest loading positive), so the
    picture does not flip between runs; the names give each component's share of
    the variance.

    Example:
    >>> xy, names = project_2d(np.eye(4)[:3])
    >>> xy.shape, names[0].startswith("PC1")
    ((3, 2), True)
    """
    z = np.asarray(codes, dtype="float64")
    z = z.reshape(len(z), -1)
    if z.shape[1] == 1:
        return np.stack([z[:, 0], np.zeros(len(z))], axis=1), ["z[0]", ""]
    if z.shape[1] == 2:
        return z, ["z[0]", "z[1]"]
    centred = z - z.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    variance = singular**2
    share = variance / variance.sum() if variance.sum() > 0 else np.zeros_like(variance)
    signs = np.sign(vt[:2, np.argmax(np.abs(vt[:2]), axis=1)].diagonal())
    signs[signs == 0] = 1
    xy = centred @ (vt[:2].T * signs)
    return xy, [f"PC1 of z ({share[0]:.0%} of variance)", f"PC2 of z ({share[1]:.0%} of variance)"]
