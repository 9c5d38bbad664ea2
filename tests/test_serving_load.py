"""Serving under load: 8 threads x 200 concurrent calls to one loaded SavedModel's signatures give
exactly the outputs of the same calls made one after another (the signatures are stateless: noise
comes from the `seed` input), and evaluation streams a large dataset in batches."""

import concurrent.futures

import numpy as np
import pytest
import tensorflow as tf

THREADS, CALLS = 8, 200


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from keras_vae.export.saved_model import export_saved_model
    from keras_vae.models import build_vae

    model = build_vae((4, 4, 1), latent_dim=2, seed=0)
    return tf.saved_model.load(export_saved_model(model, str(tmp_path_factory.mktemp("served"))))


def _request(i):
    rng = np.random.default_rng(i)
    signature = ["encode", "decode", "reconstruct", "sample", "elbo", "serving_default"][i % 6]
    batch = 1 + i % 5
    images = tf.constant(rng.uniform(size=(batch, 4, 4, 1)).astype("float32"))
    if signature == "decode":
        return signature, {"z": tf.constant(rng.normal(size=(batch, 2)).astype("float32"))}
    if signature == "sample":
        return signature, {"seed": tf.constant(i), "count": tf.constant(batch)}
    if signature == "elbo":
        return signature, {"images": images, "seed": tf.constant(i)}
    return signature, {"images": images}


def _call(served, i):
    signature, kwargs = _request(i)
    return {k: v.numpy() for k, v in served.signatures[signature](**kwargs).items()}


def test_concurrent_calls_equal_sequential_calls(served):
    n = THREADS * CALLS
    sequential = [_call(served, i) for i in range(n)]
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        concurrent_results = list(pool.map(lambda i: _call(served, i), range(n), chunksize=CALLS))
    for i, (expected, actual) in enumerate(zip(sequential, concurrent_results)):
        assert expected.keys() == actual.keys()
        for key in expected:
            np.testing.assert_array_equal(actual[key], expected[key], err_msg=f"call {i} output {key}")


def test_evaluation_streams_a_large_dataset_in_batches():
    from keras_vae.evaluation import importance_sampled_log_likelihood
    from keras_vae.models import build_vae

    model = build_vae((4, 4, 1), latent_dim=2, seed=0)
    x = (np.random.default_rng(0).uniform(size=(3000, 4, 4, 1)) > 0.5).astype("float32")
    whole = importance_sampled_log_likelihood(model, x, num_samples=4, batch_size=3000, seed=0)
    streamed = importance_sampled_log_likelihood(model, x, num_samples=4, batch_size=128, seed=0)
    assert streamed.shape == (3000,) and np.all(np.isfinite(streamed))
    np.testing.assert_allclose(streamed, whole, rtol=1e-5, atol=1e-4)
