"""Sampling: the reparameterisation z = mu + exp(logvar / 2) * eps."""

import keras
import numpy as np
import tensorflow as tf

from keras_vae import Sampling
from tests.helpers import assert_config_round_trip

MU = np.array([[0.5, -2.0, 3.0]], dtype="float32")
LOG_VAR = np.array([[0.0, np.log(4.0), np.log(0.01)]], dtype="float32")


def test_moments_match_mu_and_variance():
    n = 200_000
    z = Sampling(seed=1)([MU, LOG_VAR], num_samples=n).numpy()[:, 0, :]
    sigma = np.exp(0.5 * LOG_VAR[0])
    # Sample mean: 5 standard errors; sample variance: its standard error is
    # sigma^2 * sqrt(2 / n) for a normal, so 5 of those (about 1.6 % relative).
    np.testing.assert_array_less(np.abs(z.mean(axis=0) - MU[0]), 5 * sigma / np.sqrt(n))
    np.testing.assert_array_less(np.abs(z.var(axis=0) - sigma**2), 5 * sigma**2 * np.sqrt(2 / n))


def test_gradients_reach_mu_and_log_var():
    mu, log_var = tf.Variable(MU), tf.Variable(LOG_VAR)
    layer = Sampling(seed=2)
    with tf.GradientTape() as tape:
        z = layer([mu, log_var])
        total = tf.reduce_sum(z)
    d_mu, d_log_var = tape.gradient(total, [mu, log_var])
    epsilon = (z.numpy() - MU) / np.exp(0.5 * LOG_VAR)
    np.testing.assert_allclose(d_mu.numpy(), np.ones_like(MU))
    # dz/dlogvar = 0.5 * exp(logvar / 2) * eps
    np.testing.assert_allclose(d_log_var.numpy(), 0.5 * np.exp(0.5 * LOG_VAR) * epsilon, rtol=1e-5, atol=1e-6)


def test_same_seed_same_draws_and_other_seed_other_draws():
    a = Sampling(seed=7)([MU, LOG_VAR], num_samples=4).numpy()
    b = Sampling(seed=7)([MU, LOG_VAR], num_samples=4).numpy()
    c = Sampling(seed=8)([MU, LOG_VAR], num_samples=4).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_sample_axis_and_deterministic_path():
    mu = np.tile(MU, (5, 1))
    log_var = np.tile(LOG_VAR, (5, 1))
    layer = Sampling(seed=0)
    assert tuple(layer([mu, log_var]).shape) == (5, 3)
    assert tuple(layer([mu, log_var], num_samples=6).shape) == (6, 5, 3)
    np.testing.assert_array_equal(layer([mu, log_var], deterministic=True).numpy(), mu)
    mean_draws = layer([mu, log_var], num_samples=2, deterministic=True).numpy()
    np.testing.assert_array_equal(mean_draws, np.broadcast_to(mu, (2, 5, 3)))


def test_config_keeps_the_seed():
    rebuilt = assert_config_round_trip(Sampling(seed=11, name="s"))
    assert rebuilt.seed == 11
    np.testing.assert_array_equal(
        rebuilt([MU, LOG_VAR]).numpy(), Sampling(seed=11)([MU, LOG_VAR]).numpy()
    )


def test_philox_noise_has_the_right_moments_and_is_reproducible():
    from keras_vae.layers import noise

    # 200,000 draws: standard errors 0.0022 (mean) and 0.0032 (variance); tolerance 0.01.
    normal = np.asarray(noise.normal((200_000,), keras.random.SeedGenerator(3)))
    assert abs(normal.mean()) < 0.01 and abs(normal.var() - 1.0) < 0.01
    uniform = np.asarray(noise.uniform((200_000,), keras.random.SeedGenerator(3)))
    assert uniform.min() >= 0.0 and uniform.max() < 1.0 and abs(uniform.mean() - 0.5) < 0.01
    again = np.asarray(noise.normal((200_000,), keras.random.SeedGenerator(3)))
    np.testing.assert_array_equal(normal, again)
    generator = keras.random.SeedGenerator(3)
    first, second = noise.normal((5,), generator), noise.normal((5,), generator)
    assert not np.array_equal(first, second)  # the generator advances between draws
