"""A dSprites-style set of binary shape images with known factors, drawn by this package.

This is *not* the original dSprites files (Matthey et al. 2017): no dataset host is reachable,
so keras-vae rasterises its own sprites in NumPy, the same way every time. Each image shows one
white shape on black, and the set holds every combination of five factors:

    shape        square, ellipse, heart                       (3)
    scale        linspace(0.5, 1, n_scale)                     (dSprites: 6)
    orientation  2 pi k / n_orientation, k = 0 .. n - 1        (dSprites: 40, radians)
    pos_x, pos_y linspace(0, 1, n_pos): the centre's column    (dSprites: 32 each)
                 and row, from the leftmost/topmost to the
                 rightmost/bottommost place the largest
                 rotated shape still fits

As in dSprites, the square repeats itself every quarter turn and the ellipse every half turn,
so their orientation is not identifiable from the image for all values.

Variants (`SPRITE_VARIANTS`):

    "sprites"         64 x 64, 3 x 6 x 40 x 32 x 32 = 737,280 images (dSprites' sizes; ~3 GB as
                      uint8, 12 GB as float32: for machines with the memory)
    "sprites_medium"  32 x 32, 3 x 4 x 8 x 12 x 12 = 13,824 images (the benchmark's)
    "sprites_small"   32 x 32, 3 x 3 x 4 x 8 x 8   =  2,304 images (the tests')

Rasterisation: each (shape, scale, orientation) is drawn once as a patch by rotating and
scaling the pixel centres' coordinates and testing them against the shape's implicit
inequality, then pasted at every integer centre with one fancy-indexed assignment. The
generation has no randomness; `seed` orders the examples for the train/test split of
`load_sprite_splits`. The first `load_sprites` call per variant writes a cache file
(bit-packed images + factors, written atomically); later calls read it.
"""

import dataclasses
import os

import numpy as np

from keras_vae import atomic

SHAPES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")


@dataclasses.dataclass(frozen=True)
class SpriteVariant:
    """The sizes of one sprites set.

    Args:
        image_size: int. Height and width in pixels.
        num_scales, num_orientations, num_positions: int. Values of each factor (3 shapes always).
    """

    image_size: int
    num_scales: int
    num_orientations: int
    num_positions: int

    @property
    def factor_sizes(self):
        """Number of values of each factor, in `FACTOR_NAMES` order."""
        return (len(SHAPES), self.num_scales, self.num_orientations, self.num_positions, self.num_positions)

    @property
    def num_images(self):
        return int(np.prod(self.factor_sizes))


SPRITE_VARIANTS = {
    "sprites": SpriteVariant(64, 6, 40, 32),
    "sprites_medium": SpriteVariant(32, 4, 8, 12),
    "sprites_small": SpriteVariant(32, 3, 4, 8),
}


def is_sprites(name):
    """True when `name` is one of this package's sprites sets (`SPRITE_VARIANTS`)."""
    return name in SPRITE_VARIANTS


def _variant(variant):
    if isinstance(variant, SpriteVariant):
        return variant
    if variant not in SPRITE_VARIANTS:
        raise ValueError(f"Unknown sprites variant {variant!r}; choose one of {sorted(SPRITE_VARIANTS)}.")
    return SPRITE_VARIANTS[variant]


def factor_values(variant):
    """Returns the value grid of each factor: a list of 5 float arrays (shape as 0, 1, 2).

    Example:
    >>> [len(v) for v in factor_values("sprites_small")]
    [3, 3, 4, 8, 8]
    """
    v = _variant(variant)
    return [
        np.arange(len(SHAPES), dtype=np.float64),
        np.linspace(0.5, 1.0, v.num_scales),
        2 * np.pi * np.arange(v.num_orientations) / v.num_orientations,
        np.linspace(0.0, 1.0, v.num_positions),
        np.linspace(0.0, 1.0, v.num_positions),
    ]


def _inside(shape, u, v):
    """Point-in-shape test in the shape's own unit coordinates (u right, v up), radius about 1."""
    if shape == "square":
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if shape == "ellipse":
        return (u / 1.0) ** 2 + (v / 0.5) ** 2 <= 1.0
    # The heart curve (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0 spans |x| <= 1.14, -1 <= y <= 1.25;
    # scaled by 0.8 and shifted down by 0.1 so that it fits the unit disc, like the others.
    x, y = u / 0.8, v / 0.8 + 0.1 / 0.8
    return (x**2 + y**2 - 1) ** 3 - x**2 * y**3 <= 0


def _radius(image_size):
    # Half the extent of a scale-1 sprite in pixels: about a third of the image across.
    return 0.17 * image_size


def _patch(shape, scale, angle, image_size):
    """Binary patch (2R+1, 2R+1) of one sprite centred on the middle pixel."""
    half = int(np.ceil(_radius(image_size) * 1.3))  # the heart's farthest point, with room
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    dx, dy = np.meshgrid(offsets, -offsets)  # rows go down, v goes up
    # Rotate the pixel coordinates by -angle, i.e. the sprite by +angle (counter-clockwise).
    cos, sin = np.cos(angle), np.sin(angle)
    radius = _radius(image_size) * scale
    u = (cos * dx + sin * dy) / radius
    v = (-sin * dx + cos * dy) / radius
    return _inside(shape, u, v), half


def generate_sprites(variant="sprites_small"):
    """Draws every image of a sprites variant; returns `(images, factors)`.

    Args:
        variant: str (a key of `SPRITE_VARIANTS`) or `SpriteVariant`, default "sprites_small".

    Returns:
        images: uint8 (N, S, S, 1) of 0 and 1, in C order of the factor grid (the last factor,
            pos_y, fastest).
        factors: int64 (N, 5), each image's index into `factor_values(variant)`, in `FACTOR_NAMES` order.

    Example:
    >>> images, factors = generate_sprites("sprites_small")
    >>> images.shape, factors.shape, int(images.max())
    ((2304, 32, 32, 1), (2304, 5), 1)
    """
    v = _variant(variant)
    size = v.image_size
    values = factor_values(v)
    sizes = v.factor_sizes
    images = np.zeros(sizes + (size, size), dtype=np.uint8)
    # The largest rotated sprite must fit at the extreme centres.
    _, margin = _patch("heart", 1.0, 0.0, size)
    centres = np.round(margin + values[3] * (size - 1 - 2 * margin)).astype(np.int64)
    if len(set(centres.tolist())) != len(centres):
        raise ValueError(f"{v}: {v.num_positions} positions do not fit {size} pixels; use fewer or a larger image.")
    for s, shape in enumerate(SHAPES):
        for k, scale in enumerate(values[1]):
            for o, angle in enumerate(values[2]):
                patch, half = _patch(shape, scale, angle, size)
                rows, cols = np.nonzero(patch)
                rows, cols = rows - half, cols - half
                # images[s, k, o, px, py, cy + rows, cx + cols] = 1 for all positions at once.
                px, py = np.meshgrid(np.arange(v.num_positions), np.arange(v.num_positions), indexing="ij")
                px, py = px[..., None], py[..., None]
                images[s, k, o, px, py, centres[py] + rows, centres[px] + cols] = 1
    factors = np.stack(np.meshgrid(*[np.arange(n) for n in sizes], indexing="ij"), axis=-1).reshape(-1, 5)
    return images.reshape(-1, size, size, 1), factors.astype(np.int64)


def default_cache_dir():
    """The sprites' cache folder: `$XDG_CACHE_HOME/keras_vae` (by default ~/.cache/keras_vae)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "keras_vae")


def load_sprites(variant="sprites_small", cache_dir=None):
    """Returns `(images, factors)` of a sprites variant, generated once and cached on disk.

    The cache file `<cache_dir>/<variant>-v1.npz` holds the bit-packed images and the
    factors; it is written atomically, so a killed first call leaves no partial file.

    Args:
        variant: str, default "sprites_small". A key of `SPRITE_VARIANTS`.
        cache_dir: str or None, default None (`default_cache_dir()`).

    Returns:
        images: uint8 (N, S, S, 1) of 0 and 1; factors: int64 (N, 5) indices into `factor_values`.

    Example:
    >>> import tempfile
    >>> images, factors = load_sprites("sprites_small", cache_dir=tempfile.mkdtemp())
    >>> images.shape, factors[-1].tolist()
    ((2304, 32, 32, 1), [2, 2, 3, 7, 7])
    """
    v = _variant(variant)
    cache_dir = os.fspath(cache_dir or default_cache_dir())
    path = os.path.join(cache_dir, f"{variant}-v1.npz")
    if os.path.exists(path):
        with np.load(path) as cached:
            bits, factors = cached["bits"], cached["factors"]
        count = v.num_images * v.image_size * v.image_size
        images = np.unpackbits(bits, count=count).reshape(v.num_images, v.image_size, v.image_size, 1)
        return images, factors
    images, factors = generate_sprites(v)
    os.makedirs(cache_dir, exist_ok=True)
    with atomic.atomic_path(path) as tmp:
        np.savez(tmp, bits=np.packbits(images.reshape(-1)), factors=factors)
    return images, factors


def load_sprite_splits(variant="sprites_small", test_fraction=0.1, seed=0, cache_dir=None):
    """Returns `{"train": (images, factors), "test": (images, factors)}`, split by a seeded permutation.

    Args:
        variant: str, default "sprites_small".
        test_fraction: float in (0, 1), default 0.1. Share of the images held out.
        seed: int, default 0. Seed of the permutation.
        cache_dir: str or None, default None.

    Example:
    >>> import tempfile
    >>> splits = load_sprite_splits("sprites_small", 0.25, cache_dir=tempfile.mkdtemp())
    >>> len(splits["train"][0]), len(splits["test"][0])
    (1728, 576)
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}.")
    images, factors = load_sprites(variant, cache_dir)
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = max(1, int(round(test_fraction * len(images))))
    test, train = order[:n_test], order[n_test:]
    return {"train": (images[train], factors[train]), "test": (images[test], factors[test])}


__all__ = [
    "FACTOR_NAMES",
    "SHAPES",
    "SPRITE_VARIANTS",
    "SpriteVariant",
    "default_cache_dir",
    "factor_values",
    "generate_sprites",
    "is_sprites",
    "load_sprite_splits",
    "load_sprites",
]
