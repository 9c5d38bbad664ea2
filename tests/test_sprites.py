"""The sprites set drawn by keras_vae.data.sprites: the factor grid, the geometry, the cache, the run wiring."""

import os

import numpy as np
import pytest

from keras_vae.data import sprites
from keras_vae.data.sprites import SpriteVariant, factor_values, generate_sprites, load_sprite_splits, load_sprites


@pytest.fixture(scope="module")
def small():
    return generate_sprites("sprites_small")


def test_full_product_of_factors_in_c_order(small):
    images, factors = small
    sizes = sprites.SPRITE_VARIANTS["sprites_small"].factor_sizes
    assert images.shape == (int(np.prod(sizes)), 32, 32, 1) and images.dtype == np.uint8
    assert set(np.unique(images).tolist()) == {0, 1}
    # Every combination once, in C order: row i is the unravelled index i.
    np.testing.assert_array_equal(factors, np.stack(np.unravel_index(np.arange(len(factors)), sizes), axis=1))
    # No empty image, none touching the border (the shapes fit at every position and rotation).
    assert images.reshape(len(images), -1).sum(axis=1).min() > 0
    assert images[:, 0].max() == images[:, -1].max() == images[:, :, 0].max() == images[:, :, -1].max() == 0
    # Distinct factors give distinct images except where a shape's symmetry repeats it (square, ellipse).
    hearts = images[factors[:, 0] == 2].reshape(-1, 32 * 32)
    assert len(np.unique(hearts, axis=0)) == len(hearts)


def test_generation_is_deterministic(small):
    again = generate_sprites("sprites_small")
    np.testing.assert_array_equal(again[0], small[0])


def test_geometry_follows_the_factors():
    # A larger variant so that areas and centroids are resolved finely (about 0.1 s to draw).
    variant = SpriteVariant(64, 3, 4, 5)
    images, factors = generate_sprites(variant)
    values = factor_values(variant)
    radius = 0.17 * 64
    area = images.reshape(len(images), -1).sum(axis=1)
    for shape, unit_area in ((0, 1.6**2), (1, np.pi * 0.5)):  # square side 1.6 r, ellipse axes r and r/2
        for k, scale in enumerate(values[1]):
            rows = (factors[:, 0] == shape) & (factors[:, 1] == k)
            expected = unit_area * (radius * scale) ** 2
            # Pixel counts of a rasterised convex shape differ from its area by about its perimeter / 2.
            np.testing.assert_allclose(area[rows].mean(), expected, rtol=0.12)
    # The centroid's column follows pos_x, its row pos_y, each strictly increasing.
    ys, xs = np.mgrid[:64, :64]
    cx = (images[..., 0] * xs).sum(axis=(1, 2)) / area
    cy = (images[..., 0] * ys).sum(axis=(1, 2)) / area
    square = (factors[:, 0] == 0) & (factors[:, 1] == 2) & (factors[:, 2] == 0)
    by_x = [cx[square & (factors[:, 3] == i)].mean() for i in range(5)]
    by_y = [cy[square & (factors[:, 4] == i)].mean() for i in range(5)]
    assert np.all(np.diff(by_x) > 5) and np.all(np.diff(by_y) > 5)
    # An ellipse at orientation 0 is wide, a quarter turn later tall.
    def extent(i):
        rows, cols = np.nonzero(images[i, ..., 0])
        return np.ptp(cols), np.ptp(rows)

    flat = np.flatnonzero((factors[:, 0] == 1) & (factors[:, 1] == 2) & (factors[:, 2] == 0))[0]
    upright = np.flatnonzero((factors[:, 0] == 1) & (factors[:, 1] == 2) & (factors[:, 2] == 1))[0]
    assert extent(flat)[0] > 1.7 * extent(flat)[1] and extent(upright)[1] > 1.7 * extent(upright)[0]


def test_cache_round_trip_is_atomic_and_exact(tmp_path, small):
    images, factors = load_sprites("sprites_small", cache_dir=tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["sprites_small-v1.npz"]  # no temporary file left behind
    np.testing.assert_array_equal(images, small[0])
    cached = load_sprites("sprites_small", cache_dir=tmp_path)  # read back, not redrawn
    np.testing.assert_array_equal(cached[0], small[0])
    np.testing.assert_array_equal(cached[1], factors)


def test_unknown_variant_and_bad_fraction_are_named(tmp_path):
    with pytest.raises(ValueError, match="sprites_small"):
        load_sprites("dsprites", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="test_fraction"):
        load_sprite_splits("sprites_small", test_fraction=1.5, cache_dir=tmp_path)
    assert os.listdir(tmp_path) == []


def test_runs_load_sprites_like_any_dataset(tmp_path, small):
    from keras_vae.runs import load_splits
    from keras_vae.settings import TrainSettings

    settings = TrainSettings(dataset="sprites_small", data_dir=str(tmp_path), validation_fraction=0.25, seed=3)
    splits = load_splits(settings)
    train, test = splits["train"], splits["test"]
    assert train.examples.shape == (1728, 32, 32, 1) and test.examples.shape == (576, 32, 32, 1)
    assert train.examples.dtype == np.float32 and float(train.examples.max()) == 1.0
    assert train.class_names == ["square", "ellipse", "heart"] and set(test.labels.tolist()) == {0, 1, 2}
    # The split is a seeded permutation of the whole set: together they are every image once.
    both = np.concatenate([train.examples, test.examples]).reshape(2304, -1)
    assert len(np.unique(both, axis=0)) == len(np.unique(small[0].reshape(2304, -1), axis=0))
