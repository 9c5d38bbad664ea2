"""A flow exported like every kind: SavedModel signatures log_prob, encode, decode, sample (and
reconstruct) equal the Keras model; TFLite decoders on builtin ops only, float32 and float16,
against Keras; full int8 refused with the reason.

Tolerances: the SavedModel re-runs the Keras graph (1e-5 in pixels and z; log_prob sums 64 log
densities: 1e-3 nats); TFLite float32 1e-5, float16 1e-2 (weights rounded to 11 significant bits,
compounded through the inverse's layers: measured 0.002).
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_vae.export import family, report, saved_model, tflite
from keras_vae.export.quantization import refused_variants
from keras_vae.models.builder import build_model

MAX_PIXEL_ERROR = {"float32": 1e-5, "float16": 1e-2}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = build_model("glow", (8, 8, 1), seed=0, num_scales=2, steps_per_scale=1, hidden_channels=4)
    rng = np.random.default_rng(0)
    for variable in model.trainable_variables:  # off the identity start, so every layer acts
        variable.assign(variable + 0.05 * rng.normal(size=variable.shape).astype("float32"))
    out = tmp_path_factory.mktemp("flow_export")
    version_dir = saved_model.export_saved_model(model, str(out / "saved_model"), name="glow")
    paths = tflite.export_tflite_decoders(model, str(out / "tflite"), variants=("float32", "float16", "int8"))
    return {"model": model, "loaded": tf.saved_model.load(str(version_dir)), "paths": paths}


@pytest.mark.slow(reason="a full export: SavedModel, TFLite conversions and checks")
def test_signatures_equal_the_keras_model(exported):
    model, loaded = exported["model"], exported["loaded"]
    assert {"log_prob", "encode", "decode", "sample", "reconstruct"} <= set(loaded.signatures)
    images = np.random.default_rng(1).integers(0, 256, (6, 8, 8, 1)).astype("float32") / 255
    z = family.latent_draws(model, 5, seed=2)["z"]
    calls, expected = report.keras_reference_calls(model, images, z, seed=4, count=3)
    assert {call_id for call_id, _, _ in calls} >= {"log_prob", "encode", "decode", "sample"}
    for call_id, name, inputs in calls:
        got = loaded.signatures[name](**{key: tf.constant(value) for key, value in inputs.items()})
        assert sorted(got) == sorted(expected[call_id])
        tolerance = 1e-3 if call_id == "log_prob" else 1e-5
        for key, value in expected[call_id].items():
            np.testing.assert_allclose(got[key].numpy(), value, atol=tolerance, rtol=0, err_msg=call_id)


@pytest.mark.parametrize("variant", sorted(MAX_PIXEL_ERROR))
def test_tflite_decoders_are_builtin_only_and_match_keras(exported, variant):
    model = exported["model"]
    path = exported["paths"][variant]
    assert tflite.non_builtin_ops(path) == []
    z = family.latent_draws(model, 40, seed=3)["z"]
    got = tflite.run_decoder(tflite.load_interpreter(path), z)
    assert got.shape == (40, 8, 8, 1)
    assert np.max(np.abs(got - np.asarray(model.decode(z)))) <= MAX_PIXEL_ERROR[variant]


def test_full_int8_is_refused_with_the_reason(exported):
    assert "int8" not in exported["paths"] and "exact inverse" in refused_variants(exported["model"])["int8"]
    metadata = json.loads(open(exported["paths"]["metadata"]).read())
    assert "int8" in metadata["refused_variants"]
    assert "sample signature" in metadata["prior"]["how_to_sample"]  # Glow's split priors: not N(0, I)
