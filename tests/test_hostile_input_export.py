"""Hostile and careless input, round 3: export names and models.config, sample counts, resource limits, messages.

Each test asserts the message a user sees. Models are tiny and untrained (8x8 images, latent 2,
flows with one step of four channels); a run directory is written by hand (model.keras and
metrics.json), since training one would cost far more than the refusals being tested.
"""

import dataclasses
import json
import os
import zipfile

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from keras_vae.cli import main as cli_main
from keras_vae.export import exporter, saved_model
from keras_vae.models.builder import build_model
from keras_vae.models.loading import ModelLoadError, load_model
from keras_vae.models.signatures import MAX_SAMPLE_COUNT
from keras_vae.settings import TrainSettings

FLOW_OPTIONS = {"num_scales": 2, "steps_per_scale": 1, "hidden_channels": 4}


def tiny_model(kind):
    """A built, untrained model of `kind` for 8x8 grey images."""
    if kind in ("glow", "realnvp"):
        return build_model(kind, (8, 8, 1), seed=0, **FLOW_OPTIONS)
    return build_model(kind, (8, 8, 1), latent_dim=2, seed=0)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    """A directory holding a tiny VAE's model.keras: all `keras-vae export` reads."""
    run_dir = tmp_path_factory.mktemp("vae_run")
    tiny_model("vae").save(run_dir / "model.keras")
    return run_dir


@pytest.fixture(scope="module")
def glow_run(tmp_path_factory):
    """A Glow run directory as `keras-vae train` leaves it for evaluate and sample: model, settings, data."""
    run_dir = tmp_path_factory.mktemp("glow_run")
    data = tmp_path_factory.mktemp("glow_data") / "grey.npy"
    np.save(data, np.random.default_rng(0).integers(0, 256, (16, 8, 8, 1), dtype=np.uint8))
    tiny_model("glow").save(run_dir / "model.keras")
    settings = TrainSettings(model="glow", data=str(data), binarize="none", out=str(run_dir), **FLOW_OPTIONS)
    (run_dir / "metrics.json").write_text(json.dumps({"settings": dataclasses.asdict(settings)}))
    return run_dir


def rewrite_config(source, target, edit=None, raw=None):
    """Copies a .keras file with its config.json edited (`edit(config) -> config`) or replaced by `raw` bytes."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                data = raw if raw is not None else json.dumps(edit(json.loads(data))).encode()
            dst.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED)
    return target


def parse_models_config(path):
    """Parses models.config as TF Serving does (text format of ModelServerConfig)."""
    with open(path, encoding="utf-8") as f:
        return text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())


# --- item 3: --name is one safe path component ---------------------------------------------------


@pytest.mark.parametrize("name", ["../../escape", "/proc/escape", ".hidden", "a/b", 'va"e', "-rf", ""])
def test_export_refuses_a_name_that_is_not_one_safe_path_component(vae_run, tmp_path, capsys, name):
    out = tmp_path / "a" / "b" / "out"
    assert cli_main(["export", str(vae_run), "--out", str(out), f"--name={name}"]) == 2
    err = capsys.readouterr().err
    assert f"keras-vae export: error: --name {name!r} is not a safe model name" in err
    assert "one path component of 1 to 100 letters, digits, '.', '_' or '-'" in err
    assert sorted(os.listdir(tmp_path)) == []  # refused before any work: nothing written anywhere


def test_library_export_refuses_an_escaping_name(tmp_path):
    with pytest.raises(ValueError, match=r"--name '\.\./x' is not a safe model name"):
        saved_model.export_saved_model(tiny_model("ae"), str(tmp_path / "base"), name="../x")
    assert not (tmp_path / "base").exists() and not (tmp_path / "x").exists()
    for name in ("vae", "fashion-vae_2", "v1.2"):
        saved_model.check_model_name(name)  # ordinary names pass


# --- item 4: models.config written by the protobuf library ---------------------------------------


def test_models_config_escapes_a_quote_in_the_export_path_and_parses_back(tmp_path):
    base = tmp_path / 'ex"port \u00e9' / "saved_model"
    base.mkdir(parents=True)
    path = saved_model.write_models_config(str(base), ["vae", "other"])
    config = parse_models_config(path)
    entries = [(c.name, c.base_path, c.model_platform) for c in config.model_config_list.config]
    assert entries == [(n, os.path.join(str(base), n), "tensorflow") for n in ("vae", "other")]


def test_models_config_keeps_a_quoted_model_base_path_in_one_entry(tmp_path):
    given = '/models/va"e'
    path = saved_model.write_models_config(str(tmp_path), "vae", model_base_path=given)
    config = parse_models_config(path)
    assert [(c.name, c.base_path) for c in config.model_config_list.config] == [("vae", given)]
    assert open(path).read().count("model_platform") == 1


def test_export_refuses_a_model_base_path_with_a_newline(vae_run, tmp_path, capsys):
    hostile = '/models/vae"\n    model_platform: "evil'
    out = tmp_path / "out"
    assert cli_main(["export", str(vae_run), "--out", str(out), "--model-base-path", hostile]) == 2
    err = capsys.readouterr().err
    assert f"--model-base-path {hostile!r} contains a control character (a newline, tab, ...)" in err
    assert not out.exists()


def test_library_models_config_refuses_a_quoted_name(tmp_path):
    with pytest.raises(ValueError, match="is not a safe model name"):
        saved_model.write_models_config(str(tmp_path), 'va"e')
    assert not (tmp_path / "models.config").exists()


@pytest.mark.slow(reason="a whole export (SavedModel, four TFLite decoders, report): about 15 s")
def test_whole_export_to_an_out_with_a_quote_writes_a_valid_models_config(vae_run, tmp_path):
    out = tmp_path / 'my "exports"'
    exporter.export_run(str(vae_run), str(out), num_draws=10)
    config = parse_models_config(out / "saved_model" / "models.config")
    assert [(c.name, c.base_path) for c in config.model_config_list.config] == [
        ("vae", str(out / "saved_model" / "vae"))
    ]


# --- item 5: every kind's sample signature has the same count checks ------------------------------


def signature_function(model, name):
    """The exported signature `name` of `model` as the traced function a SavedModel holds."""
    endpoint = next(e for e in model.export_endpoints() if e.name == name)
    return tf.function(endpoint.function, input_signature=endpoint.input_signature)


@pytest.mark.parametrize("kind", ["glow", "realnvp", "vae"])
def test_every_kind_sample_signature_refuses_counts_out_of_range(kind):
    sample = signature_function(tiny_model(kind), "sample")
    assert sample(tf.constant(0), tf.constant(2))["images"].shape == (2, 8, 8, 1)
    for count in (MAX_SAMPLE_COUNT + 1, 200_000):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"count must be at most 10000 \(MAX_SAMPLE_COUNT\) "
                           "per call; split larger requests into several calls with different seeds"):
            sample(tf.constant(0), tf.constant(count))
    with pytest.raises(tf.errors.InvalidArgumentError, match="count must be >= 0"):
        sample(tf.constant(0), tf.constant(-1))


@pytest.mark.slow(reason="exports and loads a Glow SavedModel: about 8 s")
def test_served_glow_refuses_bad_counts_and_pixels_outside_the_data_range(tmp_path):
    model = tiny_model("glow")
    loaded = tf.saved_model.load(saved_model.export_saved_model(model, str(tmp_path), name="glow"))
    sample, log_prob = loaded.signatures["sample"], loaded.signatures["log_prob"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"count must be at most 10000 \(MAX_SAMPLE_COUNT\)"):
        sample(seed=tf.constant(0), count=tf.constant(200_000))
    with pytest.raises(tf.errors.InvalidArgumentError, match="count must be >= 0"):
        sample(seed=tf.constant(0), count=tf.constant(-1))
    images = np.full((2, 8, 8, 1), 0.5, np.float32)
    assert np.all(np.isfinite(log_prob(images=tf.constant(images), seed=tf.constant(0))["log_prob"].numpy()))
    for value in (5.0, -3.0):
        images[1, 3, 3, 0] = value
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"images must lie in \[0, 1\], the range of the data"):
            log_prob(images=tf.constant(images), seed=tf.constant(0))


# --- item 11: bounds on what a loaded file may ask for --------------------------------------------


@pytest.fixture(scope="module")
def glow_file(glow_run):
    return glow_run / "model.keras"


@pytest.mark.parametrize(
    "option, value, limit", [("steps_per_scale", 3000, 64), ("hidden_channels", 10**6, 1024), ("num_scales", 50, 8)]
)
def test_a_flow_file_asking_for_too_large_a_flow_is_refused(glow_file, tmp_path, option, value, limit):
    def edit(config):
        config["config"][option] = value
        return config

    hostile = rewrite_config(glow_file, tmp_path / "big.keras", edit)
    with pytest.raises(ModelLoadError) as info:
        load_model(hostile)
    assert str(info.value) == (
        f"cannot load {hostile}: ValueError: Glow needs {option} >= 1 and at most {limit} (an integer), got {value}; "
        "larger flows are refused (Glow.option_limits) so that no model file asks for unbounded work or memory."
    )


def test_a_config_json_over_the_size_limit_is_refused_before_it_is_read(glow_file, tmp_path):
    config = zipfile.ZipFile(glow_file).read("config.json")
    hostile = rewrite_config(glow_file, tmp_path / "padded.keras", raw=config + b" " * (2 << 20))
    with pytest.raises(ModelLoadError) as info:
        load_model(hostile)
    size = len(config) + (2 << 20)
    assert str(info.value) == (
        f"{hostile} has a config.json of {size:,} bytes, more than the 1,048,576 keras-vae reads (a model's config "
        "is a few KB); the file is damaged or not a keras-vae model. Save or copy it again."
    )


@pytest.mark.parametrize("depth", [100, 100_000])
def test_a_config_nested_too_deeply_is_refused(glow_file, tmp_path, depth):
    config = zipfile.ZipFile(glow_file).read("config.json")
    nested = b"[" * depth + b"]" * depth
    hostile = rewrite_config(glow_file, tmp_path / "deep.keras", raw=config[:-1] + b', "extra": ' + nested + b"}")
    with pytest.raises(ModelLoadError, match="has a config.json nested more deeply than 64 levels; the file is "
                       "damaged or not a keras-vae model"):
        load_model(hostile)


def test_a_config_built_for_huge_inputs_is_refused(glow_file, tmp_path):
    def edit(config):
        config["build_config"]["input_shape"] = [None, 4096, 4096, 1]
        return config

    hostile = rewrite_config(glow_file, tmp_path / "huge.keras", edit)
    with pytest.raises(ModelLoadError, match=r"is built for inputs of shape \(4096, 4096, 1\), 16,777,216 values per "
                       r"example, more than the 4,194,304 keras-vae loads \(MAX_INPUT_VALUES\)"):
        load_model(hostile)


# --- item 12: messages --------------------------------------------------------------------------


def test_evaluate_names_the_out_file_not_its_temporary_file_and_fails_before_work(glow_run, capsys, monkeypatch):
    import keras_vae.evaluation as evaluation

    monkeypatch.setattr(evaluation, "evaluate_exact", lambda *a, **k: pytest.fail("evaluated before checking --out"))
    assert cli_main(["evaluate", str(glow_run), "--out", "/proc/evil.json"]) == 2
    err = capsys.readouterr().err
    assert "keras-vae evaluate: error: [Errno 2] cannot write /proc/evil.json: no file can be created in /proc" in err
    assert ".tmp" not in err and "choose another location" in err


def test_a_load_error_names_the_cause_without_the_config(tmp_path):
    source = tmp_path / "vae.keras"
    tiny_model("vae").save(source)

    def edit(config):
        config["config"]["encoder"]["config"]["bogus"] = 1
        return config

    hostile = rewrite_config(source, tmp_path / "edited.keras", edit)
    with pytest.raises(ModelLoadError) as info:
        load_model(hostile)
    assert str(info.value) == (
        f"cannot load {hostile}: TypeError: Unrecognized keyword arguments passed to MLPEncoder: {{'bogus': 1}}"
    )


def test_a_flow_option_given_as_a_string_is_named_as_one(glow_file, tmp_path):
    def edit(config):
        config["config"]["num_scales"] = "2"
        return config

    hostile = rewrite_config(glow_file, tmp_path / "string.keras", edit)
    with pytest.raises(ModelLoadError, match=r"Glow needs num_scales >= 1 and at most 8 \(an integer\), got '2' \(a str\); "
                       "write it as a number, e.g. num_scales=2."):
        load_model(hostile)


def test_sample_refuses_an_absurd_temperature(glow_run, tmp_path, capsys):
    out = tmp_path / "samples.png"
    assert cli_main(["sample", str(glow_run), "--temperature", "1e30", "--n", "4", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "keras-vae sample: error: temperature must be positive and at most 5, got 1e+30: it scales the prior's " \
           "standard deviation" in err
    assert not out.exists()


def test_sample_refuses_draw_on_a_flow(glow_run, tmp_path, capsys):
    out = tmp_path / "samples.png"
    assert cli_main(["sample", str(glow_run), "--draw", "--n", "4", "--out", str(out)]) == 2
    assert "keras-vae sample: error: --draw has no effect on this Glow run: its samples are draws from the model " \
           "already" in capsys.readouterr().err
    assert not out.exists()


def test_evaluate_refuses_importance_samples_on_a_flow(glow_run, tmp_path, capsys):
    out = tmp_path / "evaluation.json"
    assert cli_main(["evaluate", str(glow_run), "--importance-samples", "5", "--out", str(out)]) == 2
    assert "keras-vae evaluate: error: --importance-samples 5 does not apply to this Glow run: keras-vae evaluate " \
           "reports its exact log-likelihood (a normalizing flow), computed without importance sampling; drop " \
           "--importance-samples." in capsys.readouterr().err
    assert not out.exists()


def test_glow_log_prob_signature_refuses_pixels_outside_the_data_range():
    log_prob = signature_function(tiny_model("glow"), "log_prob")
    images = np.full((2, 8, 8, 1), 0.5, np.float32)
    assert np.all(np.isfinite(log_prob(tf.constant(images), tf.constant(0))["log_prob"].numpy()))
    for value in (5.0, -3.0):
        images[0, 0, 0, 0] = value
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"images must lie in \[0, 1\], the range of the data "
                           r"this model was trained on \(8-bit images: divide by 255\); repair the request"):
            log_prob(tf.constant(images), tf.constant(0))
