"""Numerical robustness and determinism of training."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_vae.networks.bounds import bounded_log_var


def test_bounded_log_var_is_a_smooth_near_identity_clamp():
    x = np.array([-1e30, -1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4, 1e30], "float32")
    y = np.asarray(bounded_log_var(x))
    assert np.all(np.isfinite(y)) and np.all(y >= -10) and np.all(y <= 10)
    assert np.all(np.diff(y) >= 0)
    middle = np.linspace(-1, 1, 21).astype("float32")
    np.testing.assert_allclose(np.asarray(bounded_log_var(middle)), middle, atol=2e-4)
    # Gradients flow everywhere inside the range (no dead zone as with a hard clip).
    inputs = tf.constant(np.linspace(-12, 12, 25).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = bounded_log_var(inputs)
    grad = tape.gradient(out, inputs).numpy()
    assert np.all(np.isfinite(grad)) and np.all(grad > 0)
    with pytest.raises(ValueError):
        bounded_log_var(x, low=1.0, high=0.0)


@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_encoders_log_variance_stays_bounded_for_extreme_inputs(architecture):
    from keras_vae.models import build_vae

    model = build_vae((8, 8, 1), architecture=architecture, latent_dim=3, seed=0)
    x = np.full((2, 8, 8, 1), 1e6, "float32")
    z_mean, z_log_var = model.encode(x)
    z_log_var = np.asarray(z_log_var)
    assert np.all(np.isfinite(z_log_var)) and np.all(np.abs(z_log_var) <= 10)


def test_nan_during_training_raises_floating_point_error_with_advice(tmp_path, monkeypatch):
    from keras_vae import training

    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, (40, 6, 6), np.uint8))
    real = training.make_epoch_dataset

    def poisoned(images, **kwargs):
        dataset, steps = real(images, **kwargs)
        return dataset.map(lambda batch: batch * np.float32("nan")), steps

    monkeypatch.setattr(training, "make_epoch_dataset", poisoned)
    settings = training.TrainSettings(
        data=str(path), epochs=2, latent_dim=2, batch_size=8, out=str(tmp_path / "run"), verbose=0,
        jit_compile=False,
    )
    with pytest.raises(FloatingPointError, match="NaN or infinite.*--learning-rate"):
        training.train(settings)
    assert not os.path.exists(tmp_path / "run" / "model.keras")
    assert not os.path.exists(tmp_path / "run" / "backup")


def _train(data, out, seed):
    command = [
        sys.executable, "-m", "keras_vae", "train", "--data", str(data), "--epochs", "2", "--steps-per-epoch",
        "10", "--batch-size", "16", "--latent-dim", "2", "--seed", str(seed), "--deterministic", "--out", str(out),
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow(reason="trains the same run in two subprocesses")
def test_deterministic_runs_with_the_same_seed_give_identical_weights(tmp_path):
    from tests.helpers import saved_weights

    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(1).integers(0, 256, (80, 6, 6), np.uint8))
    runs = [_train(data, tmp_path / name, seed) for name, seed in (("a", 5), ("b", 5), ("c", 6))]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err[-3000:]
    a, b, c = (saved_weights(tmp_path / name) for name in "abc")
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert any(not np.array_equal(a[name], c[name]) for name in a if a[name].size > 2)
