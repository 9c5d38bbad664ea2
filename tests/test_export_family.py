"""`keras_vae.export` for every model kind `keras-vae train --model` writes: cvae, ae, dae (vae: test_export.py).

Each kind is a tiny MLP model fitted for one epoch on random 8x8 images and exported once
(module fixtures); the tests then read the export. Tolerances: the SavedModel re-runs the
Keras graph, so its outputs agree to float32 rounding (1e-5; elbo sums 64 pixels: 1e-4);
TFLite float32 1e-5, float16 1e-3 (weights rounded to 11 significant bits), dynamic and
full int8 a max pixel error of 0.06, the bound test_export.py measured and verifies for
the VAE (the tiny models here stay under 0.01).
"""

import fcntl
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_vae.cli import main as cli_main
from keras_vae.export import exporter, family, report, saved_model, tflite
from keras_vae.models.builder import build_model, build_vae
from keras_vae.models.loading import ModelLoadError
from keras_vae.runs import Run
from tests.helpers import bernoulli_elbo_reference, random_images

SHAPE = (8, 8, 1)
LATENT_DIM = 3
NUM_CLASSES = 3
MAX_PIXEL_ERROR = {"float32": 1e-5, "float16": 1e-3, "dynamic_int8": 0.06, "int8": 0.06}
SIGNATURES = {
    "cvae": {"serving_default", "encode", "decode", "reconstruct", "sample", "elbo"},
    "ae": {"serving_default", "encode", "decode", "reconstruct"},
    "dae": {"serving_default", "encode", "decode", "reconstruct"},
}


def fitted(kind, seed=0):
    """A tiny model of `kind` fitted for one epoch on random images (labels for a cvae)."""
    keras.utils.set_random_seed(seed)
    model = build_model(kind, SHAPE, latent_dim=LATENT_DIM, num_classes=NUM_CLASSES if kind == "cvae" else None, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)  # XLA compiling costs more than one epoch
    x = random_images(64, SHAPE, seed=seed)
    if kind == "cvae":
        model.fit(x, np.arange(64) % NUM_CLASSES, epochs=1, batch_size=16, verbose=0)
    else:
        model.fit(x, epochs=1, batch_size=16, verbose=0)
    return model


@pytest.fixture(scope="module", params=["cvae", "ae", "dae"])
def exported(request, tmp_path_factory):
    """One model of each kind saved as a run's model.keras and exported with `export_model`.

    200 verification draws keep it fast. Under pytest-xdist the export is made once per
    run and shared by the workers: the first to take the file lock exports, the others wait and read.
    """
    kind = request.param
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent / "export_family" / kind
    else:
        root = tmp_path_factory.mktemp(f"export_{kind}")
    out = root / "export" / "out"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (out / "export_report.json").is_file():
            fitted(kind).save(root / "model.keras")
            exporter.export_model(Run(str(root)).load_model(), str(out), name=kind, num_draws=200)
    version_dir = out / "saved_model" / kind / "1"
    return {
        "kind": kind,
        "model": Run(str(root)).load_model(),
        "out": out,
        "report": json.loads((out / "export_report.json").read_text()),
        "loaded": tf.saved_model.load(str(version_dir)),
    }


def inputs_of(signature):
    return set(signature.structured_input_signature[1])


# Layout and report ---------------------------------------------------------------------


@pytest.mark.slow(reason="a full export: SavedModel, TFLite conversions and checks")
def test_layout_and_report(exported):
    kind, out, on_disk = exported["kind"], exported["out"], exported["report"]  # read from export_report.json
    assert (out / "saved_model" / kind / "1" / "saved_model.pb").is_file()
    assert f'name: "{kind}"' in (out / "saved_model" / "models.config").read_text()
    assert on_disk["kind"] == kind and set(on_disk["signatures"]) == SIGNATURES[kind]
    differences = on_disk["saved_model"]["max_abs_difference"]
    assert set(differences) == SIGNATURES[kind]
    assert max(differences.values()) <= 1e-4
    assert not {"keras_vae", "tensorflow_probability"} & set(on_disk["saved_model"]["subprocess"]["modules"])
    assert set(on_disk["tflite"]) == set(tflite.VARIANTS)
    for variant, entry in on_disk["tflite"].items():
        assert (out / "tflite" / entry["file"]).is_file() and entry["num_draws"] == 200
        assert entry["max_abs_pixel_difference"] <= MAX_PIXEL_ERROR[variant], variant
        assert entry["latency_ms_batch1_median"] > 0
    assert on_disk["tflite"]["int8"]["bytes"] <= 0.35 * on_disk["tflite"]["float32"]["bytes"]
    metadata = json.loads((out / "tflite" / tflite.METADATA_FILE).read_text())
    assert metadata["kind"] == kind
    names = [spec["name"] for spec in metadata["inputs"]]
    assert names == (["z", "condition"] if kind == "cvae" else ["z"])
    table = report.format_table(on_disk)
    assert table.startswith(kind) and "int8" in table
    assert sorted(os.listdir(out.parent)) == ["out"]  # the temp directory was renamed, not left


# SavedModel signatures re-run vs Keras ---------------------------------------------------


def test_signatures_rerun_equal_the_keras_model(exported):
    kind, model, loaded = exported["kind"], exported["model"], exported["loaded"]
    assert set(loaded.signatures) == SIGNATURES[kind]
    x = random_images(6, SHAPE, seed=3)
    z = np.random.default_rng(3).standard_normal((6, LATENT_DIM)).astype("float32")
    if kind == "cvae":
        labels = np.array([0, 1, 2, 2, 1, 0], "int32")
        cond = {"labels": tf.constant(labels)}
        want_reconstruction = model.reconstruct(x, labels)
        want_decode = model.decode(z, labels)
        z_mean, z_log_var = model.encode(x, labels)
        encoded = loaded.signatures["encode"](images=tf.constant(x), **cond)
        np.testing.assert_allclose(encoded["z_mean"], z_mean, atol=1e-5)
        np.testing.assert_allclose(encoded["z_log_var"], z_log_var, atol=1e-5)
    else:
        cond = {}
        want_reconstruction = model.reconstruct(x)
        want_decode = model.decode(z)
        encoded = loaded.signatures["encode"](images=tf.constant(x))
        assert set(encoded) == {"z"}
        np.testing.assert_allclose(encoded["z"], model.encode(x), atol=1e-5)
    for name in ("serving_default", "reconstruct"):
        got = loaded.signatures[name](images=tf.constant(x), **cond)["reconstruction"]
        np.testing.assert_allclose(got, want_reconstruction, atol=1e-5, err_msg=name)
    decoded = loaded.signatures["decode"](z=tf.constant(z), **cond)
    np.testing.assert_allclose(decoded["probabilities"], want_decode, atol=1e-5)
    np.testing.assert_allclose(tf.sigmoid(decoded["logits"]), want_decode, atol=1e-5)


@pytest.mark.slow(reason="a full export: SavedModel, TFLite conversions and checks")
@pytest.mark.parametrize("exported", ["dae"], indirect=True)
def test_denoising_autoencoder_signatures_do_not_corrupt(exported):
    x = random_images(4, SHAPE, seed=5)
    first = exported["loaded"].signatures["reconstruct"](images=tf.constant(x))["reconstruction"]
    second = exported["loaded"].signatures["reconstruct"](images=tf.constant(x))["reconstruction"]
    np.testing.assert_array_equal(first, second)  # deterministic: no training noise in the graph


@pytest.mark.parametrize("exported", ["cvae"], indirect=True)
def test_cvae_decode_and_sample_take_the_condition(exported):
    model, loaded = exported["model"], exported["loaded"]
    assert inputs_of(loaded.signatures["decode"]) == {"z", "labels"}
    assert inputs_of(loaded.signatures["sample"]) == {"seed", "labels"}
    assert inputs_of(loaded.signatures["elbo"]) == {"images", "labels", "seed"}
    labels = np.array([0, 1, 2, 0], "int32")
    images = loaded.signatures["sample"](seed=tf.constant(7), labels=tf.constant(labels))["images"].numpy()
    np.testing.assert_allclose(images, model.sample(4, seed=7, condition=labels), atol=1e-5)
    # Same seed (same z), other labels: other images, so the condition reaches the decoder.
    other = loaded.signatures["sample"](seed=tf.constant(7), labels=tf.constant((labels + 1) % 3))["images"].numpy()
    assert np.max(np.abs(other - images)) > 1e-4
    x = random_images(4, SHAPE, seed=4)
    terms = loaded.signatures["elbo"](images=tf.constant(x), labels=tf.constant(labels), seed=tf.constant(2))
    # Against NumPy formulas at the signature's noise, not against the function the signature traces.
    reference = bernoulli_elbo_reference(model, x, 2, labels)
    for key, value in zip(("elbo", "reconstruction", "kl"), reference):
        np.testing.assert_allclose(terms[key], value, atol=1e-4, err_msg=key)
    np.testing.assert_allclose(terms["elbo"], terms["reconstruction"] - terms["kl"], atol=1e-4)


# TFLite decoders -------------------------------------------------------------------------


@pytest.mark.parametrize("variant", tflite.VARIANTS)
def test_tflite_decoders_are_builtin_only_and_match_keras(exported, variant):
    kind, model = exported["kind"], exported["model"]
    path = exported["out"] / "tflite" / f"decoder_{variant}.tflite"
    assert tflite.non_builtin_ops(path) == []
    interpreter = tflite.load_interpreter(path)
    inputs = family.latent_draws(model, 50, seed=11)
    assert sorted(tflite.decoder_input_details(interpreter)) == sorted(inputs)
    got = tflite.run_decoder(interpreter, inputs["z"], inputs.get("condition"))
    if kind == "cvae":
        labels = np.argmax(inputs["condition"], axis=1)
        assert set(labels) == set(range(NUM_CLASSES))  # conditions cycle through the classes
        want = model.decode(inputs["z"], labels)
        with pytest.raises(ValueError, match="takes the inputs"):
            tflite.run_decoder(interpreter, inputs["z"])  # the condition is required
    else:
        want = model.decode(inputs["z"])
    assert got.shape == (50, *SHAPE)
    assert np.max(np.abs(got - np.asarray(want))) <= MAX_PIXEL_ERROR[variant]


def test_calibration_reaches_past_the_verification_draws_and_does_not_reuse_them(exported):
    model = exported["model"]
    calibration = family.calibration_inputs(model, seed=0)
    draws = family.latent_draws(model, 1000, seed=0)
    # int8 clips beyond the calibrated range: it must cover the draws the report checks.
    assert calibration["z"].min() <= draws["z"].min() and calibration["z"].max() >= draws["z"].max()
    assert not {tuple(row) for row in draws["z"]} & {tuple(row) for row in calibration["z"]}  # another random stream
    if exported["kind"] == "cvae":
        assert calibration["condition"].shape == (len(calibration["z"]), NUM_CLASSES)
        assert set(np.argmax(calibration["condition"], axis=1)) == set(range(NUM_CLASSES))


def test_condition_vector_cvae_decoder(tmp_path):
    from keras_vae import MLPDecoder, MLPEncoder
    from keras_vae.models.conditional_vae import ConditionalVAE

    model = ConditionalVAE(MLPEncoder(2, hidden_units=(8,)), MLPDecoder(SHAPE, hidden_units=(8,)), condition_dim=4, seed=0)
    model.build((None, *SHAPE))
    paths = tflite.export_tflite_decoders(model, str(tmp_path), variants=("float32", "int8"))
    z = np.random.default_rng(0).standard_normal((5, 2)).astype("float32")
    c = np.random.default_rng(1).standard_normal((5, 4)).astype("float32")
    for variant in ("float32", "int8"):
        assert tflite.non_builtin_ops(paths[variant]) == []
        got = tflite.run_decoder(tflite.load_interpreter(paths[variant]), z, c)
        assert np.max(np.abs(got - np.asarray(model.decode(z, c)))) <= MAX_PIXEL_ERROR[variant]
    archive_dir = saved_model.export_saved_model(model, str(tmp_path / "sm"), name="cvae")
    decode = tf.saved_model.load(archive_dir).signatures["decode"]
    assert inputs_of(decode) == {"z", "condition"}
    np.testing.assert_allclose(decode(z=tf.constant(z), condition=tf.constant(c))["probabilities"], model.decode(z, c), atol=1e-5)


# The VAE's own prior ---------------------------------------------------------------------


def test_vae_sample_signature_and_metadata_use_the_models_own_prior(tmp_path):
    model = build_vae(SHAPE, latent_dim=LATENT_DIM, prior="mixture", seed=0)
    model.prior.means.assign(model.prior.means + 5.0)  # far from N(0, I): a standard normal draw would show
    path = saved_model.export_saved_model(model, str(tmp_path))
    sample = tf.saved_model.load(path).signatures["sample"]
    images = sample(seed=tf.constant(4), count=tf.constant(6))["images"].numpy()
    np.testing.assert_allclose(images, model.sample(6, seed=4), atol=1e-5)
    standard = model.decode(np.asarray(tf.random.stateless_normal((6, LATENT_DIM), seed=[0, 4])))
    assert np.max(np.abs(images - np.asarray(standard))) > 1e-3
    assert family.latent_draws(model, 500)["z"].mean() > 3.0  # the report's draws: p(z), not N(0, I)
    description = family.prior_description(model)
    assert description["name"] == "MixtureOfGaussians"
    np.testing.assert_allclose(description["means"], model.prior.means.numpy(), atol=1e-6)
    assert np.asarray(description["scales"]).shape == (model.prior.num_components, LATENT_DIM)


def test_hierarchical_vae_metadata_does_not_describe_z2_alone_as_the_decoders_input():
    # p(z2) is a VampPrior of dimension d, the decoder takes [z1, z2] of 2d: its components alone
    # would tell a device to decode d-dimensional draws.
    from keras_vae.models.builder import build_model

    model = build_model("hvae", SHAPE, latent_dim=LATENT_DIM, prior="vamp", seed=0)
    description = family.prior_description(model)
    assert "means" not in description and "weights" not in description
    assert "z1" in description["how_to_sample"] and "sample signature" in description["how_to_sample"]


# Bad input fails early and leaves nothing behind --------------------------------------------


def _fail(args, capsys):
    code = cli_main(args)
    return code, capsys.readouterr().err


def test_bad_run_directories_fail_early_with_clear_messages(tmp_path, capsys):
    out = str(tmp_path / "out")
    code, err = _fail(["export", str(tmp_path / "missing"), "--out", out], capsys)
    assert code == 2 and "run directory" in err and "does not exist" in err
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "model.keras").write_bytes(b"PK\x03\x04 this is not a zip archive")
    code, err = _fail(["export", str(corrupt), "--out", out], capsys)
    assert code == 2 and "not a valid .keras file" in err
    with pytest.raises(ModelLoadError):
        exporter.export_run(str(corrupt), out)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(foreign / "model.keras")
    code, err = _fail(["export", str(foreign), "--out", out], capsys)
    assert code == 2 and "keras-vae export handles the models keras-vae train writes" in err and "Sequential" in err
    assert not os.path.exists(out)
    assert sorted(os.listdir(tmp_path)) == ["corrupt", "foreign"]


# The CLI on a cvae run directory -------------------------------------------------------------


@pytest.mark.slow(reason="a full export: SavedModel, TFLite conversions and checks")
@pytest.mark.parametrize("exported", ["cvae"], indirect=True)
def test_cli_exports_a_cvae_run_directory(exported, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    model = exported["model"]
    model.save(run_dir / "model.keras")
    out = tmp_path / "exported"
    assert cli_main(["export", str(run_dir), "--out", str(out), "--name", "fashion"]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert printed.startswith("cvae") and "int8" in printed and "exported version 1 of 'fashion'" in printed
    result = json.loads((out / "export_report.json").read_text())
    assert result["kind"] == "cvae" and result["tflite"]["int8"]["num_draws"] == 1000
    assert max(result["saved_model"]["max_abs_difference"].values()) <= 1e-4
    loaded = tf.saved_model.load(str(out / "saved_model" / "fashion" / "1"))
    assert inputs_of(loaded.signatures["sample"]) == {"seed", "labels"}
    labels = np.array([2, 1], "int32")
    images = loaded.signatures["sample"](seed=tf.constant(0), labels=tf.constant(labels))["images"]
    np.testing.assert_allclose(images, model.sample(2, seed=0, condition=labels), atol=1e-5)
    assert sorted(os.listdir(tmp_path)) == ["exported", "run"]
