"""Every likelihood's quantised TFLite decoders stay within a stated error of the Keras decoder,
or the export refuses the variant and says why (keras_vae.export.quantization)."""

import json
import warnings

import keras
import numpy as np
import pytest

from keras_vae.export import quantization, report, tflite
from keras_vae.likelihoods import LIKELIHOODS
from keras_vae.models.builder import build_model

SHAPE = (8, 8, 1)


def trained_model(likelihood):
    """A small VAE (8x8 rectangles, latent 3) trained for 4 epochs on data the likelihood supports."""
    rng = np.random.default_rng(0)
    images = np.zeros((2048, *SHAPE), "float32")
    for i in range(len(images)):
        top, left = rng.integers(0, 6, size=2)
        height, width = rng.integers(2, 9 - max(top, left), size=2)
        images[i, top : top + height, left : left + width, 0] = 1.0
    if likelihood != "bernoulli":  # grey values inside (0, 1)
        images = np.clip(images * 0.9 + 0.05 + 0.02 * rng.standard_normal(images.shape), 0, 1)
    if likelihood == "discretized_logistic":
        images = np.round(images * 255) / 255
    keras.utils.set_random_seed(0)
    model = build_model("vae", SHAPE, "mlp", 3, likelihood, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(images.astype("float32"), epochs=4, batch_size=64, verbose=0)
    return model


@pytest.mark.slow(reason="a full export: SavedModel, TFLite conversions and checks")
@pytest.mark.parametrize("likelihood", sorted(LIKELIHOODS))
def test_int8_error_is_bounded_or_the_variant_refused(likelihood, tmp_path):
    model = trained_model(likelihood)
    paths = tflite.export_tflite_decoders(model, tmp_path, variants=("dynamic_int8", "int8"))
    metadata = json.loads(open(paths["metadata"]).read())
    refused = quantization.refused_variants(model)
    assert metadata["refused_variants"] == refused
    errors = {
        variant: report.tflite_variant_report(model, path, num_draws=1000, latency_runs=2)["max_abs_pixel_difference"]
        for variant, path in paths.items() if variant != "metadata"
    }
    assert errors["dynamic_int8"] <= quantization.DYNAMIC_INT8_MAX_ABS_ERROR, errors
    if likelihood in ("continuous_bernoulli", "discretized_logistic"):
        assert "int8" not in paths and not (tmp_path / "decoder_int8.tflite").exists()
        assert "int8" in refused and "dynamic_int8" in refused["int8"] and "divides" in refused["int8"]
    else:
        assert refused == {} and errors["int8"] <= quantization.INT8_MAX_ABS_ERROR, errors


@pytest.mark.slow(reason="a full export: SavedModel, TFLite conversions and checks")
@pytest.mark.parametrize("likelihood", ["continuous_bernoulli", "discretized_logistic"])
def test_refused_int8_decoders_are_indeed_unusable(likelihood, tmp_path):
    # Converted anyway, bypassing the refusal: the int8 decoder fails at run time or errs beyond the bound.
    model = trained_model(likelihood)
    saved_model = tflite.write_decoder_saved_model(model, str(tmp_path / "decode"))
    from keras_vae.export import family

    path = tflite.convert_decoder(saved_model, "int8", str(tmp_path / "int8.tflite"), family.calibration_inputs(model))
    try:
        error = report.tflite_variant_report(model, path, num_draws=1000, latency_runs=2)["max_abs_pixel_difference"]
    except RuntimeError as failure:
        assert "div" in str(failure).lower()
    else:
        assert error > quantization.INT8_MAX_ABS_ERROR


def test_int8_conversion_warns_about_no_deprecated_interpreter(tmp_path):
    # TensorFlow's calibrator runs tf.lite.Interpreter, which warns that it is deprecated; keras-vae
    # uses ai_edge_litert itself and keeps the converter's warning out of its users' output.
    from keras_vae.export import family

    model = build_model("vae", (4,), latent_dim=2)
    decoder = tflite.write_decoder_saved_model(model, str(tmp_path / "decoder"))
    calibration = family.calibration_inputs(model, count=16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = tflite.convert_decoder(decoder, "int8", str(tmp_path / "decoder_int8.tflite"), calibration=calibration)
        interpreter = tflite.load_interpreter(path)
    assert type(interpreter).__module__.startswith("ai_edge_litert")
    assert not [w for w in caught if "tf.lite.Interpreter" in str(w.message)], [str(w.message)[:80] for w in caught]
