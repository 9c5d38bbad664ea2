"""The semi-supervised VAE M2 (Kingma et al. 2014): its bounds against explicit references, saving, export."""

import math
import os

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from keras_vae import objectives
from keras_vae.models import CLASSIFY, ConditionalVAE, build_model
from keras_vae.models.semi_supervised_vae import SemiSupervisedVAE, paper_alpha

from tests.helpers import assert_config_round_trip

SHAPE = (6, 6, 1)
K = 3


def small_model(alpha=0.7, num_samples=2, seed=0):
    return build_model("m2", SHAPE, latent_dim=2, seed=seed, num_classes=K, alpha=alpha, num_samples=num_samples)


def data(n=5, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.uniform(size=(n,) + SHAPE) < 0.4).astype("float32")
    return x, rng.integers(0, K, n)


def test_batched_unlabelled_bound_equals_a_loop_over_classes():
    model = small_model()
    x, _ = data()
    b = len(x)
    eps = tf.random.stateless_normal((2, K * b, model.noise_dim), seed=[1, 2])
    bounds, parts = model.class_bounds(tf.constant(x), eps)
    logits = model.class_logits(tf.constant(x))
    batched = np.asarray(model.unlabelled_bound(bounds, logits))
    # The reference: one conditional bound per class, in a Python loop, with the same noise.
    looped = np.zeros((b, K))
    for k in range(K):
        one_hot = tf.one_hot(np.full(b, k), K)
        terms = model.bound_terms(tf.constant(x), eps[:, k * b : (k + 1) * b], one_hot)
        reconstruction, kl = objectives.elbo_terms(terms)
        looped[:, k] = np.asarray(reconstruction - kl) - math.log(K)  # + log p(y), p(y) = 1/K
    np.testing.assert_allclose(np.asarray(bounds), looped, rtol=1e-5)
    probs = scipy.special.softmax(np.asarray(logits, "float64"), axis=-1)
    expected = np.sum(probs * looped, axis=-1) + scipy.stats.entropy(probs, axis=-1)
    np.testing.assert_allclose(batched, expected, rtol=1e-5)
    assert parts.shape == (2, b, K)


def test_entropy_term_matches_scipy():
    model = small_model()
    logits = tf.constant(np.random.default_rng(3).normal(scale=2.0, size=(7, K)), tf.float32)
    entropy = np.asarray(model.unlabelled_bound(tf.zeros((7, K)), logits))  # all L(x, y) = 0 leaves H(q(y|x))
    reference = scipy.stats.entropy(scipy.special.softmax(np.asarray(logits, "float64"), axis=-1), axis=-1)
    np.testing.assert_allclose(entropy, reference, rtol=1e-5)


def test_all_labelled_loss_is_the_conditional_elbo_plus_alpha_cross_entropy():
    alpha = 0.7
    model = small_model(alpha=alpha, num_samples=1)
    x, labels = data(8)
    b = len(x)
    eps = tf.random.stateless_normal((1, K * b, model.noise_dim), seed=[4, 5])
    model.sampling.noise = lambda shape: eps  # this instance's noise, fixed for the comparison
    loss, terms = model.loss_terms(tf.constant(x), tf.one_hot(labels, K), training=False)
    # The conditional VAE with the same networks, each example at its own class's noise.
    cvae = ConditionalVAE(model.encoder, model.decoder, num_classes=K, seed=0)
    cvae.build((None,) + SHAPE)
    own_eps = tf.gather(eps, labels * b + np.arange(b), axis=1)
    reconstruction, kl = objectives.elbo_terms(cvae.bound_terms(tf.constant(x), own_eps, tf.one_hot(labels, K)))
    elbo = np.asarray(reconstruction - kl)
    probs = np.asarray(model.classify(x), "float64")
    cross_entropy = -np.log(probs[np.arange(b), labels])
    expected = np.mean(-elbo) + math.log(K) + alpha * np.mean(cross_entropy)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    values, weights = terms["labelled_bound"]
    np.testing.assert_allclose(np.asarray(values), elbo - math.log(K), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(weights), np.ones(b))


def test_unlabelled_examples_count_only_in_the_unlabelled_term():
    model = small_model(num_samples=1)
    x, labels = data(6)
    labels[3:] = -1
    eps = tf.random.stateless_normal((1, K * 6, model.noise_dim), seed=[6, 7])
    model.sampling.noise = lambda shape: eps
    loss, _ = model.loss_terms(tf.constant(x), tf.one_hot(labels, K))  # -1 -> an all-zero row
    bounds, _ = model.class_bounds(tf.constant(x), eps)
    logits = model.class_logits(tf.constant(x))
    bounds, probs = np.asarray(bounds), scipy.special.softmax(np.asarray(logits, "float64"), axis=-1)
    u = np.sum(probs * bounds, -1) + scipy.stats.entropy(probs, axis=-1)
    ce = -np.log(probs[np.arange(3), labels[:3]])
    expected = -np.mean(bounds[np.arange(3), labels[:3]]) - np.mean(u[3:]) + model.alpha * np.mean(ce)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)


def test_fit_on_mixed_batches_round_trips_and_exports_classify(tmp_path):
    model = small_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, labels = data(32)
    mixed = np.where(np.arange(32) < 8, labels, -1)
    history = model.fit(x, mixed, epochs=1, batch_size=16, verbose=0).history
    assert sorted(history) == ["accuracy", "kl", "labelled_bound", "loss", "reconstruction", "unlabelled_bound"]
    assert model.can(CLASSIFY) and model.condition_spec.num_classes == K
    probs = np.asarray(model.classify(x))
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)
    assert_config_round_trip(model)
    path = os.path.join(tmp_path, "m2.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored, SemiSupervisedVAE) and restored.alpha == model.alpha
    np.testing.assert_allclose(np.asarray(restored.classify(x)), probs, atol=1e-6)
    np.testing.assert_allclose(np.asarray(restored.sample(3, seed=1, condition=2)), np.asarray(model.sample(3, seed=1, condition=2)), atol=1e-6)
    endpoints = {endpoint.name: endpoint for endpoint in model.export_endpoints()}
    assert set(endpoints) == {"reconstruct", "encode", "decode", "sample", "elbo", "classify"}
    served = endpoints["classify"].function(tf.constant(x))["probabilities"]
    np.testing.assert_allclose(np.asarray(served), probs, atol=1e-6)


def test_bad_labels_and_options_get_clear_errors():
    model = small_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, _ = data(4)
    with pytest.raises(ValueError, match="num_classes=3"):
        model.fit(x, np.array([0, 1, 5, -1]), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="alpha"):
        small_model(alpha=-1.0)
    with pytest.raises(ValueError, match="num_labelled"):
        paper_alpha(10, 20)
    assert paper_alpha(60000, 100) == pytest.approx(60.0)
    with pytest.raises(ValueError, match="classify needs a model with a classify"):
        build_model("vae", SHAPE, latent_dim=2).classify(x)
