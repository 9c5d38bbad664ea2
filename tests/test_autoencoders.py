"""Autoencoder and DenoisingAutoencoder: training, clean targets, round trips, decoder export."""

import json

import keras
import numpy as np
import pytest

from keras_vae import Gaussian, MLPDecoder, MLPEncoder
from keras_vae.data import load_tfds_images
from keras_vae.models.autoencoder import Autoencoder
from keras_vae.models.denoising_autoencoder import DenoisingAutoencoder
from keras_vae.networks.conv import ConvDecoder, ConvEncoder
from tests.helpers import random_images


class FlatIdentityEncoder(keras.layers.Layer):
    """Code = the flattened input (and a dummy log-variance), so decode(encode(x)) = x exactly."""

    def call(self, x):
        flat = keras.ops.reshape(x, (keras.ops.shape(x)[0], -1))
        return flat, keras.ops.zeros_like(flat)

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], int(np.prod(input_shape[1:])))
        return shape, shape


class IdentityDecoder(keras.layers.Layer):
    def call(self, z):
        return z

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


def assert_autoencoder_round_trip(model, x, tmp_path):
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored) is type(model)
    assert json.dumps(restored.get_config(), sort_keys=True) == json.dumps(model.get_config(), sort_keys=True)
    np.testing.assert_allclose(np.asarray(restored.encode(x)), np.asarray(model.encode(x)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(restored.reconstruct(x)), np.asarray(model.reconstruct(x)), atol=1e-6)
    z = np.random.default_rng(0).normal(size=(3, model.latent_dim)).astype("float32")
    np.testing.assert_allclose(np.asarray(restored.decode(z)), np.asarray(model.decode(z)), atol=1e-6)
    return restored


@pytest.mark.parametrize("kind", ["ae", "dae"])
def test_training_on_fashion_mnist_lowers_the_loss(kind, fashion_mnist_data_dir, tmp_path):
    x, _ = load_tfds_images("fashion_mnist", "train[:3000]", data_dir=fashion_mnist_data_dir)
    keras.utils.set_random_seed(0)
    encoder, decoder = MLPEncoder(8, hidden_units=(128,)), MLPDecoder((28, 28, 1), hidden_units=(128,))
    if kind == "ae":
        model = Autoencoder(encoder, decoder, name="ae")
    else:
        model = DenoisingAutoencoder(encoder, decoder, noise_std=0.3, mask_probability=0.1, seed=0, name="dae")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(x, epochs=3, batch_size=128, validation_data=(x[:500],), verbose=0)
    assert sorted(history.history) == ["loss", "reconstruction", "val_loss", "val_reconstruction"]
    losses = history.history["loss"]
    assert losses[-1] < 0.9 * losses[0]
    # Loss: mean of batch means; reconstruction: mean over examples (the last batch is smaller).
    np.testing.assert_allclose(history.history["reconstruction"], -np.asarray(losses), rtol=1e-2)
    assert model.encode(x[:5]).shape == (5, 8)  # one tensor, not a tuple
    assert_autoencoder_round_trip(model, x[:16], tmp_path)


def test_mse_loss_and_a_conv_pair(tmp_path):
    x = random_images(16, (12, 10, 1))
    model = Autoencoder(
        ConvEncoder(3, filters=(4,), hidden_units=8), ConvDecoder((12, 10, 1), filters=(4,), hidden_units=8),
        likelihood=Gaussian(scale=1.0), reconstruction_loss="mse", name="mse_ae",
    )
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, batch_size=8, verbose=0)
    recon = np.asarray(model.reconstruct(x))
    expected = -np.mean(np.sum((x - recon) ** 2, axis=(1, 2, 3)))
    loss = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, -expected, rtol=1e-4)
    assert_autoencoder_round_trip(model, x, tmp_path)


def test_denoising_corrupts_only_the_input_and_keeps_a_clean_target():
    x = np.full((64, 10), 0.5, "float32")

    def dae(**kwargs):
        model = DenoisingAutoencoder(
            FlatIdentityEncoder(), IdentityDecoder(), likelihood="gaussian", reconstruction_loss="mse", seed=1, **kwargs
        )
        model.build((None, 10))
        return model

    # Identity nets: the reconstruction is the corrupted input, so the squared error against the
    # clean target is the corruption itself. A corrupted target would give exactly 0.
    noisy = dae(noise_std=0.5)
    error = -np.asarray(noisy.reconstruction_terms(x, training=True))
    np.testing.assert_allclose(error.mean(), 10 * 0.25, rtol=0.15)
    masked = dae(noise_std=0.0, mask_probability=0.5)
    error = -np.asarray(masked.reconstruction_terms(x, training=True))
    np.testing.assert_allclose(error.mean(), 10 * 0.5 * 0.25, rtol=0.2)
    # Without training the input is clean: no error, and reconstruct never corrupts.
    np.testing.assert_allclose(np.asarray(noisy.reconstruction_terms(x, training=False)), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(noisy.reconstruct(x)), x, atol=1e-6)
    # Seeded: the same seed gives the same corruption.
    np.testing.assert_array_equal(
        np.asarray(dae(noise_std=0.5).corrupt(x, training=True)), np.asarray(dae(noise_std=0.5).corrupt(x, training=True))
    )


def test_bad_options_and_data_fail_clearly():
    with pytest.raises(ValueError, match="reconstruction_loss"):
        Autoencoder(MLPEncoder(2), MLPDecoder((4,)), reconstruction_loss="l1")
    with pytest.raises(ValueError, match="noise_std > 0 or mask_probability > 0"):
        DenoisingAutoencoder(MLPEncoder(2), MLPDecoder((4,)), noise_std=0.0)
    with pytest.raises(ValueError, match="mask_probability"):
        DenoisingAutoencoder(MLPEncoder(2), MLPDecoder((4,)), mask_probability=1.0)
    model = Autoencoder(MLPEncoder(2), MLPDecoder((4,)))
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="Bernoulli likelihood needs values"):
        model.fit(np.full((4, 4), 3.0, "float32"), verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.full((4, 4), np.nan, "float32"), verbose=0)


def test_decoder_exports_to_a_builtin_only_tflite_file(tmp_path):
    from keras_vae.export.tflite import export_tflite_decoders, load_interpreter, non_builtin_ops, run_decoder

    model = Autoencoder(MLPEncoder(3, hidden_units=(8,)), MLPDecoder((6, 6, 1), hidden_units=(8,)))
    model.build((None, 6, 6, 1))
    paths = export_tflite_decoders(model, str(tmp_path / "tflite"), variants=("float32",))
    assert non_builtin_ops(paths["float32"]) == []
    z = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(run_decoder(load_interpreter(paths["float32"]), z), model.decode(z), atol=1e-5)


def test_cli_trains_a_denoising_autoencoder(tmp_path, fashion_mnist_data_dir, capsys):
    import os

    from keras_vae.cli import main

    out = tmp_path / "dae"
    args = ["train", "--model", "dae", "--noise-std", "0.3", "--data-dir", str(fashion_mnist_data_dir),
            "--out", str(out), "--epochs", "1", "--steps-per-epoch", "5", "--batch-size", "32", "--latent-dim", "4"]
    assert main(args) == 0, capsys.readouterr().err
    # No prior, so no samples.png; reconstructions are drawn.
    assert sorted(os.listdir(out)) == ["history.csv", "metrics.json", "model.keras", "reconstructions.png", "tensorboard"]
    model = keras.models.load_model(out / "model.keras")
    assert type(model) is DenoisingAutoencoder and model.noise_std == 0.3
