"""keras_vae.plotting.compute against closed forms, on linear doubles of the model contract.

The doubles embed and decode linearly (code = flat(x) A [+ E_c], image = z B [+ F_c]), so
every array a figure shows can be computed independently here in NumPy.
"""

import statistics

import numpy as np
import pytest

from keras_vae.plotting import compute

SHAPE = (4, 4, 1)


class LinearModel:
    """An unconditional model of the model contract: embed(x) = flat(x) A, decode(z) = z B."""

    takes_condition = False
    num_classes = None
    E = F = None  # the class terms of ClassModel

    def __init__(self, latent_dim=3, seed=0):
        rng = np.random.default_rng(seed)
        self.data_shape, self.latent_dim = SHAPE, latent_dim
        self.A = rng.normal(size=(int(np.prod(SHAPE)), latent_dim))
        self.B = rng.normal(size=(latent_dim, int(np.prod(SHAPE))))

    def can(self, capability):
        return capability == "prior"

    def _labels(self, condition, n):
        if condition is not None:
            raise ValueError("an unconditional model takes no condition")
        return None

    def _shift(self, table, labels):
        return 0.0

    def embed(self, x, condition=None):
        labels = self._labels(condition, len(x))
        return np.asarray(x, "float64").reshape(len(x), -1) @ self.A + self._shift(self.E, labels)

    def decode(self, z, condition=None):
        labels = self._labels(condition, len(z))
        return (np.asarray(z, "float64") @ self.B + self._shift(self.F, labels)).reshape((-1,) + SHAPE)

    def reconstruct(self, x, condition=None):
        return self.decode(self.embed(x, condition), condition)

    def sample(self, n, seed=None, condition=None):
        z = np.random.default_rng(seed).normal(size=(n, self.latent_dim))  # z from the seed alone
        return self.decode(z, condition)


class ClassModel(LinearModel):
    """A class-conditional double: code = flat(x) A + E[c], image = z B + F[c]; labels must align with the batch."""

    takes_condition = True
    num_classes = 3

    def __init__(self, latent_dim=3, seed=0):
        super().__init__(latent_dim, seed)
        rng = np.random.default_rng(seed + 1)
        self.E = rng.normal(size=(self.num_classes, latent_dim))
        self.F = rng.normal(size=(self.num_classes, int(np.prod(SHAPE))))

    def _labels(self, condition, n):
        labels = np.asarray(condition)
        assert labels.shape == (n,), f"{labels.shape} labels for a batch of {n}"
        return labels

    def _shift(self, table, labels):
        return table[labels]

    def sample(self, n, seed=None, condition=None):
        labels = np.arange(n) % self.num_classes if condition is None else np.asarray(condition)
        return super().sample(n, seed, labels)


def flat(x):
    return np.asarray(x, "float64").reshape(len(x), -1)


@pytest.fixture
def images():
    return np.random.default_rng(7).uniform(size=(10,) + SHAPE).astype("float32")


def test_latent_codes_are_embed_in_batches_with_aligned_conditions(images):
    model = LinearModel()
    np.testing.assert_allclose(compute.latent_codes(model, images, batch_size=3), flat(images) @ model.A, rtol=1e-6)
    model, labels = ClassModel(), np.arange(10) % 3
    codes = compute.latent_codes(model, images, labels, batch_size=4)  # batches of 4, 4, 2 with their own labels
    np.testing.assert_allclose(codes, flat(images) @ model.A + model.E[labels], rtol=1e-6)
    with pytest.raises(ValueError, match="9 conditions for 10 images"):
        compute.latent_codes(model, images, labels[:9])
    with pytest.raises(ValueError, match="No images"):
        compute.latent_codes(model, images[:0])


def test_manifold_is_the_decoded_grid_of_normal_quantiles():
    n, low, high = 5, 0.1, 0.9
    values = np.array([statistics.NormalDist().inv_cdf(q) for q in np.linspace(low, high, n)])
    np.testing.assert_allclose(compute.quantile_grid(n, (low, high)), values, rtol=1e-6)
    model = LinearModel(latent_dim=4)
    manifold = compute.latent_manifold(model, n=n, dims=(3, 1), quantile_range=(low, high))
    grid = manifold.points.reshape(n, n, 4)
    for row in range(n):
        for col in range(n):
            # Columns run along z[3] left to right, rows along z[1] top (high) to bottom (low); others 0.
            np.testing.assert_allclose(grid[row, col], [0, values[n - 1 - row], 0, values[col]], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(flat(manifold.images), manifold.points @ model.B, rtol=1e-5)
    assert manifold.dims == (3, 1)
    # A conditional model decodes the whole grid under the one condition given.
    model = ClassModel(latent_dim=2)
    manifold = compute.latent_manifold(model, n=3, condition=2)
    np.testing.assert_allclose(flat(manifold.images), manifold.points @ model.B + model.F[2], rtol=1e-5)
    with pytest.raises(ValueError, match="quantile_range"):
        compute.quantile_grid(5, (0.5, 0.5))
    with pytest.raises(ValueError, match="dims"):
        compute.manifold_points(2, dims=(1, 1))


def test_interpolation_runs_straight_from_code_to_code(images):
    model = LinearModel()
    a, b = images[:3], images[3:6]
    path = compute.latent_interpolation(model, a, b, steps=5)
    z_a, z_b = flat(a) @ model.A, flat(b) @ model.A
    np.testing.assert_allclose(path.t, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(path.codes[:, 0], z_a, rtol=1e-5)  # the endpoints are the codes
    np.testing.assert_allclose(path.codes[:, -1], z_b, rtol=1e-5)
    np.testing.assert_allclose(path.codes[:, 1], 0.75 * z_a + 0.25 * z_b, rtol=1e-5)
    np.testing.assert_allclose(flat(path.images.reshape((-1,) + SHAPE)), path.codes.reshape(-1, 3) @ model.B, rtol=1e-5)
    # One pair as single images.
    assert compute.latent_interpolation(model, images[0], images[1], steps=2).images.shape == (1, 2) + SHAPE
    # A conditional model: both ends embedded and the whole path decoded under the pair's condition.
    model, labels = ClassModel(), np.array([2, 0, 1])
    path = compute.latent_interpolation(model, a, b, steps=3, condition=labels)
    np.testing.assert_allclose(path.codes[:, 0], flat(a) @ model.A + model.E[labels], rtol=1e-5)
    np.testing.assert_allclose(path.codes[:, 2], flat(b) @ model.A + model.E[labels], rtol=1e-5)
    expected = path.codes @ model.B + model.F[labels][:, None, :]
    np.testing.assert_allclose(path.images.reshape(3, 3, -1), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="steps"):
        compute.latent_interpolation(model, a, b, steps=1, condition=labels)


def test_attribute_vector_is_the_difference_of_class_means(images):
    model, labels = LinearModel(), np.array([0, 1, 1, 2, 1, 0, 0, 2, 1, 1])
    codes = flat(images) @ model.A
    vector = codes[labels == 1].mean(axis=0) - codes[labels != 1].mean(axis=0)
    np.testing.assert_allclose(compute.attribute_vector(model, images, labels, 1), vector, rtol=1e-5)
    result = compute.attribute_arithmetic(model, images, labels, 1, images[:2], scales=(0, 1, 2.5))
    expected = codes[:2, None, :] + np.array([0, 1, 2.5])[None, :, None] * vector
    np.testing.assert_allclose(result.codes, expected, rtol=1e-5)
    np.testing.assert_allclose(result.images.reshape(2, 3, -1), expected @ model.B, rtol=1e-5)
    # Conditional: the images embedded under their conditions, the bases decoded under theirs.
    model, condition = ClassModel(), np.arange(10) % 3
    codes = flat(images) @ model.A + model.E[condition]
    vector = codes[labels == 1].mean(axis=0) - codes[labels != 1].mean(axis=0)
    result = compute.attribute_arithmetic(
        model, images, labels, 1, images[:2], scales=(0, 1), condition=condition, base_condition=np.array([2, 2])
    )
    np.testing.assert_allclose(result.vector, vector, rtol=1e-5)
    z_base = flat(images[:2]) @ model.A + model.E[2]
    np.testing.assert_allclose(result.codes[:, 1], z_base + vector, rtol=1e-5)
    np.testing.assert_allclose(result.images[:, 1].reshape(2, -1), (z_base + vector) @ model.B + model.F[2], rtol=1e-5)
    with pytest.raises(ValueError, match="with and without class 7"):
        compute.attribute_vector(model, images, labels, 7, condition)


def test_traversals_set_one_dimension_to_each_value(images):
    model, values = LinearModel(latent_dim=4), np.array([-2.0, 0.5, 3.0])
    sweep = compute.latent_traversals(model, images[0], dims=[2, 0], values=values)
    code = (flat(images[:1]) @ model.A)[0]
    assert sweep.dims == [2, 0]
    for row, d in enumerate([2, 0]):
        expected = np.repeat(code[None], 3, axis=0)
        expected[:, d] = values
        np.testing.assert_allclose(sweep.codes[row], expected, rtol=1e-5)
    np.testing.assert_allclose(sweep.images.reshape(2, 3, -1), sweep.codes @ model.B, rtol=1e-5)
    # A conditional model: the image's own condition for its code and every decoding.
    model = ClassModel(latent_dim=4)
    sweep = compute.latent_traversals(model, images[0], dims=[1], values=values, condition=2)
    np.testing.assert_allclose(sweep.codes[0, :, 0], (flat(images[:1]) @ model.A + model.E[2])[0, 0], rtol=1e-5)
    np.testing.assert_allclose(sweep.images.reshape(3, -1), sweep.codes[0] @ model.B + model.F[2], rtol=1e-5)
    with pytest.raises(ValueError, match="dims"):
        compute.latent_traversals(model, images[0], dims=[4], condition=2)


def test_default_traversals_keep_the_dimensions_that_change_the_image_most(images):
    model = LinearModel(latent_dim=6)
    # Decoded pixels move by (d + 1) * |B_d| along dimension d; dimensions 1 and 4 do nothing (inactive).
    model.B = np.ones_like(model.B) * (np.arange(6)[:, None] + 1)
    model.B[[1, 4]] = 0.0
    assert compute.latent_traversals(model, images[0], max_dims=3).dims == [2, 3, 5]
    assert compute.latent_traversals(model, images[0], max_dims=6).dims == [0, 1, 2, 3, 4, 5]  # all fit


def test_class_samples_share_z_down_each_column():
    model = ClassModel()
    samples = compute.class_samples(model, per_class=4, seed=3)
    assert samples.shape == (3, 4) + SHAPE
    np.testing.assert_allclose(samples[1], model.sample(4, seed=3, condition=np.full(4, 1)))
    # Image = z B + F[c]: between two rows only the class term differs, the same in every column.
    np.testing.assert_allclose(
        samples[2].reshape(4, -1) - samples[0].reshape(4, -1), np.repeat((model.F[2] - model.F[0])[None], 4, 0)
    )
    with pytest.raises(ValueError, match="class-conditional"):
        compute.class_samples(LinearModel())


def test_reconstructions_and_decodings_keep_shapes_and_conditions(images):
    model, labels = ClassModel(), np.arange(10) % 3
    expected = (flat(images) @ model.A + model.E[labels]) @ model.B + model.F[labels]
    rebuilt = compute.reconstructions(model, images, labels, batch_size=3)
    np.testing.assert_allclose(rebuilt.reshape(10, -1), expected, rtol=1e-5)
    z = np.zeros((2, 5, 3))
    grid_labels = np.array([[0] * 5, [1] * 5])
    np.testing.assert_allclose(compute.decoded(model, z, grid_labels)[1, 4].reshape(-1), model.F[1], rtol=1e-6)
