"""Shared test helpers: serialization round trips, small reference models and independent bounds."""

import os
import socket

import keras
import numpy as np
import tensorflow as tf

from keras_vae.experiments.linear_gaussian import AffineEncoder, LinearDecoder, LinearGaussianModel  # noqa: F401
from keras_vae.models import build_vae


def assert_config_round_trip(obj):
    """`from_config(get_config())` rebuilds an object with the same config."""
    config = obj.get_config()
    rebuilt = type(obj).from_config(config)
    assert rebuilt.get_config() == config
    return rebuilt


def assert_layer_round_trip(layer, inputs, tmp_path, atol=1e-6):
    """A layer survives get_config and a `.keras` save/load with identical outputs.

    The layer is wrapped in a functional model; the file is loaded without
    custom_objects, which proves the class is registered. `inputs` is one array, or a
    tuple of arrays for a layer called on a tuple (a `ConditionalNetwork`'s (x, c)).
    """
    assert_config_round_trip(layer)
    if isinstance(inputs, tuple):
        inputs = [np.asarray(part, dtype="float32") for part in inputs]
        x = [keras.Input(shape=part.shape[1:]) for part in inputs]
        model = keras.Model(x, layer(tuple(x)))
    else:
        inputs = np.asarray(inputs, dtype="float32")
        x = keras.Input(shape=inputs.shape[1:])
        model = keras.Model(x, layer(x))
    path = os.path.join(tmp_path, f"{layer.name}.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    expected = keras.tree.flatten(model(inputs))
    actual = keras.tree.flatten(restored(inputs))
    assert len(expected) == len(actual)
    for e, a in zip(expected, actual):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), atol=atol, rtol=0)
    return restored


def assert_vae_round_trip(model, images, tmp_path, atol=1e-6):
    """A built VAE survives get_config and `.keras` with identical encode/decode/reconstruct."""
    assert_config_round_trip(model)
    path = os.path.join(tmp_path, "vae.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored) is type(model)
    images = np.asarray(images, dtype="float32")
    for e, a in zip(model.encode(images), restored.encode(images)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), atol=atol, rtol=0)
    z = np.random.default_rng(0).normal(size=(len(images), model.latent_dim)).astype("float32")
    np.testing.assert_allclose(np.asarray(restored.decode(z)), np.asarray(model.decode(z)), atol=atol, rtol=0)
    np.testing.assert_allclose(
        np.asarray(restored.reconstruct(images)), np.asarray(model.reconstruct(images)), atol=atol, rtol=0
    )
    np.testing.assert_allclose(float(restored.beta), float(model.beta))
    return restored


def export_noise(batch, dim, seed):
    """The eps (batch, dim) an exported `elbo` signature draws for `seed`: N(0, 1) from the stateless seed [0, seed]."""
    return np.asarray(tf.random.stateless_normal((batch, dim), seed=[0, seed]), np.float64)


def diagonal_gaussian_kl(mean, variance):
    """KL(N(mean, diag(variance)) || N(0, I)) per row, in nats (closed form, NumPy)."""
    return 0.5 * np.sum(variance + mean**2 - 1.0 - np.log(variance), axis=-1)


def bernoulli_elbo_reference(model, x, seed, condition=None):
    """Per-example `(elbo, reconstruction, kl)` of an exported `elbo` signature, recomputed in NumPy.

    For a VAE with a diagonal Gaussian posterior, a N(0, I) prior and a Bernoulli
    likelihood, from the encoder's and decoder's outputs only: z = mean + exp(log_var / 2)
    * eps at the signature's noise (`export_noise`), log p(x|z) = sum x log sigmoid(l) +
    (1 - x) log sigmoid(-l), and the closed-form KL. Nothing of keras_vae's bound code runs.
    """
    assert type(model.prior).__name__ == "StandardNormal", "the closed-form KL here is against N(0, I)"
    x = np.asarray(x, np.float64)
    z_mean, z_log_var = (np.asarray(t, np.float64) for t in model.encode(x.astype("float32"), condition))
    z = z_mean + np.exp(0.5 * z_log_var) * export_noise(len(x), z_mean.shape[1], seed)
    vector = model.condition_vector(condition)
    logits = np.asarray(model.decoder(model.with_condition(z.astype("float32"), vector)), np.float64)
    # log sigmoid(l) = -log(1 + exp(-l)), stably.
    log_p = -(x * np.logaddexp(0.0, -logits) + (1 - x) * np.logaddexp(0.0, logits))
    reconstruction = log_p.reshape(len(x), -1).sum(axis=-1)
    kl = diagonal_gaussian_kl(z_mean, np.exp(z_log_var))
    return reconstruction - kl, reconstruction, kl


def random_images(n=16, shape=(28, 28, 1), seed=0):
    """Uniform grey images in [0, 1], float32."""
    return np.random.default_rng(seed).uniform(size=(n,) + tuple(shape)).astype("float32")


def compiled_binary_vae(latent_dim, shape=(8, 8, 1), **options):
    """Returns a compiled small VAE (Adam 1e-2, XLA) and 32 binary images to fit it on.

    Args:
        latent_dim: int.
        shape: tuple, default (8, 8, 1). The images' shape.
        **options: `build_vae` options (prior, posterior, ...).
    """
    model = build_vae(shape, latent_dim=latent_dim, seed=0, **options)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=True)
    return model, (random_images(32, shape) > 0.5).astype("float32")


# The linear-Gaussian model lives in the library (the experiments use it too); the tests use it as an oracle.
LinearGaussianOracle = LinearGaussianModel


def saved_weights(out):
    """Every array of model.keras' weights file, by path (read without rebuilding the model)."""
    import io
    import zipfile

    import h5py

    with zipfile.ZipFile(os.path.join(out, "model.keras")) as archive:
        data = archive.read("model.weights.h5")
    arrays = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(lambda name, item: arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    assert arrays
    return arrays


def free_ports(n):
    """Returns `n` TCP ports on 127.0.0.1 that were free a moment ago (for TF_CONFIG clusters)."""
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports
