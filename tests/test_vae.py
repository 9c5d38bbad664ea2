"""The VAE model: fit/evaluate, metrics, beta, callbacks, methods, bad input, saving."""

import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vae import VAE, Gaussian, MLPDecoder, MLPEncoder
from keras_vae.models import build_vae
from keras_vae.settings import TrainSettings
from keras_vae.training import uses_xla
from tests.helpers import assert_vae_round_trip, random_images

SHAPE = (8, 8, 1)


def small_vae(likelihood="bernoulli", architecture="mlp", **kwargs):
    model = build_vae(SHAPE, architecture=architecture, latent_dim=3, likelihood=likelihood, seed=0, **kwargs)
    # XLA as `keras-vae train` uses it: not for the conv step, which XLA slows down on a CPU.
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=uses_xla(TrainSettings(architecture=architecture)))
    return model


@pytest.mark.slow(reason="trains models for several epochs")
def test_fit_on_numpy_reports_consistent_metrics():
    model = small_vae()
    history = model.fit(random_images(64, SHAPE), epochs=2, batch_size=16, verbose=0).history
    assert sorted(history) == ["elbo", "kl", "loss", "reconstruction"]
    for epoch in range(2):
        rec, kl, loss, elbo = (history[k][epoch] for k in ("reconstruction", "kl", "loss", "elbo"))
        assert rec < 0 and kl > 0
        # beta = 1: loss = -(reconstruction - kl) = -elbo, averaged the same way.
        np.testing.assert_allclose(loss, -elbo, rtol=1e-5)
        np.testing.assert_allclose(elbo, rec - kl, rtol=1e-5)


@pytest.mark.slow(reason="trains models for several epochs")
def test_fit_on_a_dataset_of_image_label_pairs_and_evaluate_gives_the_elbo():
    images = random_images(64, SHAPE)
    data = tf.data.Dataset.from_tensor_slices((images, np.arange(64))).batch(16)
    model = small_vae(likelihood="gaussian")
    model.fit(data, epochs=1, verbose=0)
    result = model.evaluate(data, verbose=0, return_dict=True)
    assert sorted(result) == ["elbo", "kl", "loss", "reconstruction"]
    np.testing.assert_allclose(result["elbo"], result["reconstruction"] - result["kl"], rtol=1e-5)


def test_beta_variable_is_read_inside_the_compiled_step():
    class SetBeta(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.model.beta.assign([1.0, 0.0, 4.0][epoch])

    model = small_vae()
    history = model.fit(random_images(32, SHAPE), epochs=3, batch_size=32, verbose=0, callbacks=[SetBeta()]).history
    for epoch, beta in enumerate([1.0, 0.0, 4.0]):
        expected = -history["reconstruction"][epoch] + beta * history["kl"][epoch]
        np.testing.assert_allclose(history["loss"][epoch], expected, rtol=1e-5)


def test_more_monte_carlo_samples_reduce_the_spread_of_the_elbo():
    model = small_vae(likelihood="gaussian")
    x = random_images(8, SHAPE)
    spread = {}
    for num_samples in (1, 64):
        estimates = [np.asarray(model.elbo_terms(x, num_samples=num_samples)[0]) for _ in range(20)]
        spread[num_samples] = np.std(estimates, axis=0).mean()
    # Monte Carlo standard error falls like 1 / sqrt(L): 8x for 64 samples; ask for 4x.
    assert spread[64] < spread[1] / 4


def test_methods_shapes_and_seeded_sampling():
    model = small_vae()
    x = random_images(5, SHAPE)
    z_mean, z_log_var = model.encode(x)
    assert tuple(z_mean.shape) == (5, 3) and tuple(z_log_var.shape) == (5, 3)
    decoded = np.asarray(model.decode(z_mean))
    assert decoded.shape == (5,) + SHAPE and decoded.min() >= 0 and decoded.max() <= 1
    np.testing.assert_allclose(np.asarray(model.reconstruct(x)), decoded, atol=1e-6)
    a, b, c = (np.asarray(model.sample(6, seed=s)) for s in (1, 1, 2))
    assert a.shape == (6,) + SHAPE
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.slow(reason="trains models for several epochs")
def test_standard_callbacks_work(tmp_path):
    model = small_vae()
    x = random_images(64, SHAPE)
    checkpoint = os.path.join(tmp_path, "best.keras")
    callbacks = [
        keras.callbacks.ModelCheckpoint(checkpoint, monitor="loss"),
        keras.callbacks.TensorBoard(os.path.join(tmp_path, "tb")),
        keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=1e9),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.BackupAndRestore(os.path.join(tmp_path, "backup")),
    ]
    history = model.fit(x, epochs=5, batch_size=16, verbose=0, callbacks=callbacks)
    # min_delta is huge, so EarlyStopping stops after patience + 1 = 2 epochs.
    assert len(history.history["loss"]) == 2
    assert glob.glob(os.path.join(tmp_path, "tb", "train", "events.out.tfevents.*"))
    restored = keras.models.load_model(checkpoint)
    np.testing.assert_allclose(np.asarray(restored.reconstruct(x[:4])), np.asarray(model.reconstruct(x[:4])), atol=1e-6)
    assert not os.path.exists(os.path.join(tmp_path, "backup"))  # removed after a finished fit


def test_terminate_on_nan_stops_a_diverging_run():
    images = random_images(64, SHAPE)
    images[40] = np.nan  # tf.data is not inspected up front; the step's loss becomes NaN.
    data = tf.data.Dataset.from_tensor_slices(images).batch(16)
    model = small_vae(likelihood="gaussian")
    history = model.fit(data, epochs=3, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()])
    assert len(history.history["loss"]) == 1 and model.stop_training


@pytest.mark.parametrize(
    "data, error, match",
    [
        (random_images(4, (9, 9, 1)), ValueError, r"built for inputs of shape \(8, 8, 1\)"),
        ((random_images(4, SHAPE) * 255).astype("uint8"), TypeError, "255"),
        (np.full((4,) + SHAPE, "a"), TypeError, "numeric"),
        (np.where(np.eye(8)[None, :, :, None] > 0, np.nan, random_images(4, SHAPE)), ValueError, "32 NaN"),
        (random_images(4, SHAPE) * 2, ValueError, r"needs values in \[0, 1\]"),
    ],
    ids=["shape", "uint8", "strings", "nan", "range"],
)
def test_bad_numpy_data_fails_before_training(data, error, match):
    model = small_vae()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(error, match=match):
        model.fit(data, epochs=1, verbose=0)
    for w0, w1 in zip(before, model.get_weights()):
        np.testing.assert_array_equal(w0, w1)


def test_bad_dataset_shape_fails_with_a_clear_error():
    model = small_vae()
    data = tf.data.Dataset.from_tensor_slices(random_images(4, (6, 6, 1))).batch(2)
    with pytest.raises(ValueError, match="built for inputs of shape"):
        model.fit(data, epochs=1, verbose=0)


def test_bad_options_name_the_valid_choices():
    with pytest.raises(ValueError, match=r"\['bernoulli', 'continuous_bernoulli', 'discretized_logistic', 'gaussian'"):
        VAE(MLPEncoder(2), MLPDecoder((4,)), likelihood="poisson")
    with pytest.raises(ValueError, match=r"\['conv', 'mlp'\]"):
        build_vae(SHAPE, architecture="resnet")
    with pytest.raises(ValueError, match="num_samples"):
        VAE(MLPEncoder(2), MLPDecoder((4,)), num_samples=0)
    with pytest.raises(ValueError, match="output_shape=\\(8, 8, 1\\)"):
        VAE(MLPEncoder(2), MLPDecoder((8, 8, 2))).build((None,) + SHAPE)


@pytest.mark.slow(reason="trains models for several epochs")
@pytest.mark.parametrize("architecture", ["mlp", "conv"])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "gaussian_fixed"])
def test_trained_model_round_trips_through_keras_file(architecture, likelihood, tmp_path):
    if likelihood == "gaussian_fixed":
        likelihood = Gaussian(scale=0.2)
    model = small_vae(likelihood=likelihood, architecture=architecture, beta=0.5, num_samples=2)
    x = random_images(32, SHAPE)
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    restored = assert_vae_round_trip(model, x[:8], tmp_path)
    assert restored.num_samples == 2
    if isinstance(model.likelihood, Gaussian):
        np.testing.assert_allclose(float(restored.likelihood.stddev()), float(model.likelihood.stddev()))
    # A restored model keeps training: finite losses, and the fit moves its weights.
    restored.compile(optimizer="adam")
    before = [np.array(w) for w in restored.trainable_weights]
    losses = restored.fit(x, epochs=1, batch_size=16, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses))
    assert any(not np.array_equal(b, np.asarray(w)) for b, w in zip(before, restored.trainable_weights))
