"""A new model kind needs one module and a registration: the WAE of tests/wasserstein_autoencoder.py.

Nothing below edits or patches the package: the kind is registered the documented way
(`register_model_kind`, undone after each test), and then the package's own builder,
`fit`, saving, sampling, plotting, evaluation and export handle it through the contract.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vae import plotting
from keras_vae.evaluation import importance_sampled_log_likelihood
from keras_vae.export import saved_model
from keras_vae.models import MODEL_KINDS, PRIOR, build_model, model_kind_name, register_model_kind

from tests.helpers import assert_config_round_trip
from tests.wasserstein_autoencoder import WassersteinAutoencoder, imq_mmd_squared

SHAPE = (8, 8, 1)


@pytest.fixture
def wae_kind():
    register_model_kind("wae", WassersteinAutoencoder)
    yield "wae"
    del MODEL_KINDS["wae"]


def binary_images(n, seed=0):
    rng = np.random.default_rng(seed)
    # Two blocky patterns plus pixel noise: learnable in a few steps.
    base = np.zeros((2,) + SHAPE, "float32")
    base[0, :4] = 1.0
    base[1, :, :4] = 1.0
    x = base[rng.integers(0, 2, n)]
    flips = rng.uniform(size=x.shape) < 0.05
    return np.where(flips, 1.0 - x, x).astype("float32")


def test_imq_mmd_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 3)), rng.normal(loc=0.5, size=(6, 3))
    scale = 2.0 * 3

    def k(u, v):
        return scale / (scale + np.sum((u - v) ** 2))

    n = len(a)
    within = sum(k(a[i], a[j]) + k(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    across = sum(k(a[i], b[j]) for i in range(n) for j in range(n)) / n**2
    expected = within - 2 * across
    actual = float(imq_mmd_squared(tf.constant(a, tf.float32), tf.constant(b, tf.float32)))
    np.testing.assert_allclose(actual, expected, rtol=1e-5)


def test_registered_kind_builds_trains_and_round_trips(wae_kind, tmp_path):
    model = build_model(wae_kind, SHAPE, latent_dim=2, seed=0, mmd_weight=5.0)
    assert model_kind_name(model) == "wae" and model.mmd_weight == 5.0
    assert model.can(PRIOR) and not model.takes_condition
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    x = binary_images(256)
    history = model.fit(x, epochs=4, batch_size=64, verbose=0).history
    assert sorted(history) == ["loss", "mmd", "reconstruction"]
    assert history["loss"][-1] < history["loss"][0]
    assert_config_round_trip(model)
    path = os.path.join(tmp_path, "wae.keras")
    model.save(path)
    restored = keras.models.load_model(path)  # no custom_objects: the kind registered itself with Keras
    np.testing.assert_allclose(np.asarray(restored.reconstruct(x[:8])), np.asarray(model.reconstruct(x[:8])), atol=1e-6)
    np.testing.assert_allclose(np.asarray(restored.sample(4, seed=3)), np.asarray(model.sample(4, seed=3)), atol=1e-6)


def test_consumers_serve_the_new_kind_through_the_contract(wae_kind, tmp_path):
    model = build_model(wae_kind, SHAPE, latent_dim=2, seed=0)
    x = binary_images(16)
    # Sampling from the kind's own prior, reproducible by seed.
    np.testing.assert_allclose(np.asarray(model.sample(5, seed=1)), np.asarray(model.sample(5, seed=1)))
    # Plotting asks for a prior and a 2-D latent space, not for a class.
    figure = plotting.plot_latent_manifold(model, n=5)
    assert figure.axes
    # No bound: the likelihood evaluation refuses with a message naming what is missing.
    with pytest.raises(ValueError, match="bound"):
        importance_sampled_log_likelihood(model, x, num_samples=4)
    # Export: the signatures follow the capabilities (a prior: sample; no bound: no elbo).
    path = saved_model.export_saved_model(model, str(tmp_path / "serving"), name="wae")
    loaded = tf.saved_model.load(path)
    assert sorted(loaded.signatures) == ["decode", "encode", "reconstruct", "sample", "serving_default"]
    images = loaded.signatures["sample"](seed=tf.constant(4), count=tf.constant(3))["images"]
    np.testing.assert_allclose(images.numpy(), np.asarray(model.sample(3, seed=4)), atol=1e-5)
    codes = loaded.signatures["encode"](images=tf.constant(x))["z"]
    np.testing.assert_allclose(codes.numpy(), np.asarray(model.embed(x)), atol=1e-5)
