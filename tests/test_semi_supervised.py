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
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)  # XLA compiles longer than 2 steps run
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


# The labelled subset and the mixed batches ------------------------------------------------

from keras_vae.cli import main  # noqa: E402
from keras_vae.data import DataError, labelled_subset, make_semi_supervised_dataset  # noqa: E402
from keras_vae.networks.classifier import MLPClassifier  # noqa: E402
from keras_vae.runs import Run, RunError  # noqa: E402


def test_labelled_subset_is_balanced_seeded_and_checked():
    labels = np.repeat(np.arange(4), [30, 20, 25, 40])
    first = labelled_subset(labels, per_class=5, seed=3)
    np.testing.assert_array_equal(np.bincount(labels[first]), [5, 5, 5, 5])
    np.testing.assert_array_equal(first, labelled_subset(labels, per_class=5, seed=3))
    assert not np.array_equal(first, labelled_subset(labels, per_class=5, seed=4))
    total = labelled_subset(labels, total=10, seed=0)
    assert sorted(np.bincount(labels[total]).tolist()) == [2, 2, 3, 3]
    with pytest.raises(DataError, match="only 20"):
        labelled_subset(labels, per_class=21)
    with pytest.raises(DataError, match="class 2 has no example"):
        labelled_subset(np.array([0, 1, 3, 3]), per_class=1)
    with pytest.raises(DataError, match=r"lie in \[0, 3\] but there are 3 classes"):
        labelled_subset(labels, per_class=1, num_classes=3)
    with pytest.raises(DataError, match="one class id per example"):
        labelled_subset(labels[:, None], per_class=1)
    with pytest.raises(DataError, match="class ids 0..K-1"):
        labelled_subset(np.array([0, -2, 1]), per_class=1)


def test_mixed_batches_cycle_the_labelled_set_and_replay_on_resume():
    x = np.random.default_rng(0).uniform(size=(40, 4, 4)).astype("float32")
    labels = np.arange(40) % 2
    subset = labelled_subset(labels, per_class=3, seed=0)
    full, steps = make_semi_supervised_dataset(x, labels, subset, batch_size=8, labelled_batch_size=4, epochs=3, seed=5)
    batches = [(np.asarray(a), np.asarray(b)) for a, b in full]
    assert steps == 5 and len(batches) == 15
    for xb, yb in batches:
        assert np.all(yb[:-4] == -1) and np.all(yb[-4:] >= 0)
        rows = np.flatnonzero(yb >= 0)
        # Every labelled row is one of the subset's examples, with its own label.
        for row in rows:
            match = [i for i in subset if np.array_equal(x[i][..., None], xb[row])]
            assert match and labels[match[0]] == yb[row]
    resumed, _ = make_semi_supervised_dataset(
        x, labels, subset, batch_size=8, labelled_batch_size=4, epochs=3, seed=5, initial_epoch=2
    )
    for (xa, ya), (xb, yb) in zip(batches[10:], resumed):
        np.testing.assert_array_equal(xa, np.asarray(xb))
        np.testing.assert_array_equal(ya, np.asarray(yb))


def stripes(n, seed):
    """Two classes on parallel lines x2 = +-1 (noise 0.3), spread along x1 in [-6, 6]."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = np.stack([rng.uniform(-6, 6, n), np.where(y == 1, 1.0, -1.0) + rng.normal(0, 0.3, n)], 1)
    return x.astype("float32"), y


@pytest.mark.slow(reason="trains models for several epochs")
def test_m2_classifier_beats_the_same_classifier_trained_on_the_labels_alone():
    # One labelled example per class (labelled_subset seed 0) among 2,000: the supervised
    # classifier only sees two points, and its boundary between them is mostly wrong
    # (measured 0.579 test accuracy with these seeds, all 0; 0.56-0.58 for subset draws 0, 1, 2).
    # M2 learns p(x|y, z) (y the line, z the position along it) from the unlabelled points and
    # classifies 0.999 after 120 steps (measured). Asserted: M2 > 0.95 and a margin of 0.2. On Fashion-MNIST within a test's budget (600 steps) M2 did not
    # beat this baseline (see BENCHMARKS.md), so the learning claim is checked where it is sharp.
    x, y = stripes(2000, seed=0)
    x_test, y_test = stripes(2000, seed=1)
    subset = labelled_subset(y, per_class=1, seed=0)

    keras.utils.set_random_seed(0)
    inputs = keras.Input((2,))
    baseline = keras.Model(inputs, MLPClassifier(2, hidden_units=(64, 64))(inputs))
    baseline.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    baseline.fit(x[subset], y[subset], epochs=100, batch_size=2, verbose=0)
    baseline_accuracy = np.mean(np.asarray(baseline(x_test)).argmax(-1) == y_test)

    keras.utils.set_random_seed(0)
    m2 = SemiSupervisedVAE(
        keras_vae_encoder(), keras_vae_decoder(), num_classes=2,
        classifier=MLPClassifier(2, hidden_units=(64, 64)), alpha=1.0, seed=0, likelihood="gaussian",
    )
    m2.compile(optimizer=keras.optimizers.Adam(3e-3))
    data, steps = make_semi_supervised_dataset(x, y, subset, batch_size=100, labelled_batch_size=2, seed=0,
                                               steps_per_epoch=120)
    m2.fit(data, steps_per_epoch=steps, verbose=0)
    m2_accuracy = np.mean(np.asarray(m2.classify(x_test)).argmax(-1) == y_test)
    assert m2_accuracy > 0.95, m2_accuracy
    assert m2_accuracy > baseline_accuracy + 0.2, (m2_accuracy, baseline_accuracy)


def keras_vae_encoder():
    from keras_vae import MLPEncoder

    return MLPEncoder(1, hidden_units=(64, 64))


def keras_vae_decoder():
    from keras_vae import MLPDecoder

    return MLPDecoder((2,), hidden_units=(64, 64))


@pytest.mark.slow(reason="trains through the command line")
def test_cli_trains_evaluates_and_records_the_labelled_subset(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    images = (rng.uniform(size=(60, 6, 6)) * 255).astype(np.uint8)
    data = os.path.join(tmp_path, "data.npz")
    np.savez(data, images=images, labels=labels)
    out = os.path.join(tmp_path, "run")
    common = ["--data", data, "--epochs", "1", "--steps-per-epoch", "2", "--latent-dim", "2", "--batch-size", "16",
              "--no-jit", "--out", out]
    assert main(["train", "--model", "m2", *common]) == 2
    assert "exactly one of --labels-per-class" in capsys.readouterr().err
    assert main(["train", "--model", "vae", "--labels-per-class", "2", *common]) == 2
    assert "--model m2" in capsys.readouterr().err
    assert main(["train", "--model", "m2", "--labels-per-class", "100", *common]) == 2
    assert "ask for at most" in capsys.readouterr().err
    assert main(["train", "--model", "m2", "--labels-per-class", "4", *common]) == 0
    assert "Test accuracy" in capsys.readouterr().out
    run = Run(out)
    indices, recorded = run.labelled()
    train_labels = run.split("train").labels
    np.testing.assert_array_equal(np.bincount(recorded), [4, 4, 4])
    np.testing.assert_array_equal(train_labels[indices], recorded)
    metrics = run.read_metrics()
    # M2's Bernoulli likelihood sees grey levels unless --binarize says otherwise (its classifier
    # then learns on the images it classifies); a VAE's default stays dynamic binarization.
    assert metrics["settings"]["binarize"] == "none"
    assert metrics["labelled_subset"]["num_labelled"] == 12
    assert metrics["labelled_subset"]["alpha"] == pytest.approx(0.1 * len(train_labels) / 12)
    assert 0 <= metrics["test"]["accuracy"] <= 1
    # A resumed run recomputes the subset from its settings and must find the recorded one.
    run.record_labelled(indices, train_labels, resumed=True)
    with pytest.raises(RunError, match="another labelled subset"):
        run.record_labelled(indices[::-1], train_labels, resumed=True)
    assert main(["evaluate", out]) == 0
    assert "Test accuracy" in capsys.readouterr().out
    assert main(["sample", out, "--label", "2", "--n", "4", "--out", os.path.join(tmp_path, "s.png")]) == 0


def test_export_serves_classify_and_a_builtin_ops_tflite_classifier(tmp_path):
    from keras_vae.export import saved_model
    from keras_vae.export.tflite import export_tflite_classifier, load_interpreter, non_builtin_ops

    model = small_model()
    x, _ = data(4)
    version_dir = saved_model.export_saved_model(model, os.path.join(tmp_path, "sm"))
    served = tf.saved_model.load(version_dir).signatures["classify"](images=tf.constant(x))["probabilities"]
    np.testing.assert_allclose(np.asarray(served), np.asarray(model.classify(x)), atol=1e-6)
    path = export_tflite_classifier(model, os.path.join(tmp_path, "classifier.tflite"))
    assert non_builtin_ops(path) == []
    interpreter = load_interpreter(path)
    runner = interpreter.get_signature_runner("classify")
    probabilities = runner(images=x[:1])["probabilities"]
    np.testing.assert_allclose(probabilities, np.asarray(model.classify(x[:1])), atol=1e-5)
