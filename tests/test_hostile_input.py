"""Hostile input: every bad file, array or request gets a clear exception, never a crash or hang.

Property-based (hypothesis) over the data loaders and the exported SavedModel's signatures, plus
the model loader's refusals (object arrays, code in a .keras config, truncated files).
"""

import io
import json
import os
import zipfile

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from keras_vae.data import DataError, load_array_file, load_image_folder, validate_images
from keras_vae.models.loading import ModelLoadError, load_model

FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

dtypes = st.one_of(
    hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(), hnp.floating_dtypes(), hnp.boolean_dtypes(),
    hnp.complex_number_dtypes(), hnp.unicode_string_dtypes(max_len=3), hnp.byte_string_dtypes(max_len=3),
    hnp.datetime64_dtypes(),
)


def _check_images_result(result):
    assert result.dtype == np.float32 and result.ndim == 4
    assert np.all(np.isfinite(result)) and result.min() >= 0 and result.max() <= 1


@FAST
@given(hnp.arrays(dtypes, hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4)))
def test_validate_images_accepts_or_raises_data_error(array):
    try:
        result = validate_images(array)
    except DataError as error:
        assert str(error)
        return
    _check_images_result(result)


def test_validate_images_refuses_object_arrays():
    with pytest.raises(DataError, match="non-numeric"):
        validate_images(np.array([[[1, "a"]]], dtype=object))


@FAST
@given(data=st.binary(max_size=600), suffix=st.sampled_from([".npy", ".npz"]))
def test_load_array_file_random_bytes(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("bytes") / f"x{suffix}"
    path.write_bytes(data)
    try:
        images, labels = load_array_file(path)
    except DataError as error:
        assert str(path) in str(error)
        return
    try:
        _check_images_result(validate_images(images))
    except DataError:
        pass


@FAST
@given(cut=st.floats(0.0, 0.99))
def test_load_array_file_truncated(tmp_path_factory, cut):
    root = tmp_path_factory.mktemp("truncated")
    buffer = io.BytesIO()
    np.savez(buffer, images=np.arange(4 * 5 * 5, dtype=np.uint8).reshape(4, 5, 5), labels=np.arange(4))
    whole = buffer.getvalue()
    path = root / "x.npz"
    path.write_bytes(whole[: int(len(whole) * cut)])
    with pytest.raises(DataError):
        load_array_file(path)


def test_object_npy_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="pickled/object arrays are not loaded"):
        load_array_file(path)


def _png_bytes(size=(6, 5), mode="L", seed=0):
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) + ((3,) if mode == "RGB" else ())
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(buffer, format="PNG")
    return buffer.getvalue()


@FAST
@given(
    files=st.lists(
        st.one_of(
            st.builds(lambda s: ("ok", s), st.sampled_from([(6, 5), (5, 6)])),
            st.builds(lambda b: ("bytes", b), st.binary(max_size=200)),
            st.builds(lambda f: ("truncated", f), st.floats(0.0, 0.95)),
        ),
        min_size=1, max_size=4,
    )
)
def test_load_image_folder_hostile_files(tmp_path_factory, files):
    folder = tmp_path_factory.mktemp("images")
    for i, (kind, arg) in enumerate(files):
        if kind == "ok":
            data = _png_bytes(arg, seed=i)
        elif kind == "bytes":
            data = arg
        else:
            whole = _png_bytes(seed=i)
            data = whole[: int(len(whole) * arg)]
        (folder / f"{i}.png").write_bytes(data)
    try:
        images, labels, names = load_image_folder(folder)
    except DataError as error:
        assert str(error)
        return
    assert images.dtype == np.uint8 and images.ndim == 4 and len(images) == len(files)
    _check_images_result(validate_images(images))


# --- exported SavedModel signatures -------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from keras_vae.export.saved_model import export_saved_model
    from keras_vae.models import build_vae

    model = build_vae((4, 4, 1), latent_dim=2, seed=0)
    path = export_saved_model(model, str(tmp_path_factory.mktemp("served")))
    return tf.saved_model.load(path)


BAD_CALL_ERRORS = (tf.errors.InvalidArgumentError, ValueError, TypeError)


@FAST
@given(
    shape=hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=5),
    dtype=st.sampled_from([np.float32, np.float64, np.int32, np.uint8]),
    poison=st.sampled_from([None, np.nan, np.inf, -np.inf]),
    signature=st.sampled_from(["encode", "reconstruct", "serving_default", "elbo"]),
)
def test_saved_model_image_signatures_reject_bad_requests(served, shape, dtype, poison, signature):
    x = np.random.default_rng(0).uniform(size=shape).astype(dtype)
    if poison is not None and x.size and np.issubdtype(dtype, np.floating):
        x.flat[0] = poison
    fn = served.signatures[signature]
    kwargs = {"images": tf.constant(x)}
    if signature == "elbo":
        kwargs["seed"] = tf.constant(0, tf.int32)
    good = shape[1:] == (4, 4, 1) and dtype == np.float32 and (poison is None or x.size == 0)
    if good:
        outputs = fn(**kwargs)
        assert all(np.all(np.isfinite(v.numpy())) for v in outputs.values())
        return
    with pytest.raises(BAD_CALL_ERRORS) as info:
        fn(**kwargs)
    assert str(info.value)


@FAST
@given(
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    poison=st.sampled_from([None, np.nan, np.inf]),
)
def test_saved_model_decode_rejects_bad_latents(served, shape, poison):
    z = np.zeros(shape, np.float32)
    if poison is not None and z.size:
        z.flat[0] = poison
    good = len(shape) == 2 and shape[1] == 2 and (poison is None or z.size == 0)
    fn = served.signatures["decode"]
    if good:
        assert fn(z=tf.constant(z))["probabilities"].shape[0] == shape[0]
        return
    with pytest.raises(BAD_CALL_ERRORS):
        fn(z=tf.constant(z))


def test_saved_model_sample_rejects_negative_count(served):
    with pytest.raises(tf.errors.InvalidArgumentError, match="count"):
        served.signatures["sample"](seed=tf.constant(0), count=tf.constant(-1))


# --- .keras files -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from keras_vae.models import build_vae

    path = tmp_path_factory.mktemp("keras") / "model.keras"
    build_vae((4, 4, 1), latent_dim=2, seed=0).save(path)
    return path


def _rewrite_config(source, target, edit):
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                data = json.dumps(edit(json.loads(data))).encode()
            dst.writestr(item, data)


def test_load_model_round_trip(model_file):
    assert load_model(model_file).latent_dim == 2


def test_load_model_refuses_foreign_module(model_file, tmp_path):
    hostile = tmp_path / "hostile.keras"

    def edit(config):
        config["config"]["encoder"] = {"module": "os", "class_name": "system", "config": {"command": "touch pwned"}}
        return config

    _rewrite_config(model_file, hostile, edit)
    with pytest.raises(ModelLoadError, match="os.system"):
        load_model(hostile)
    assert not os.path.exists("pwned")


def test_load_model_refuses_lambda_layer(tmp_path):
    import keras

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ModelLoadError, match="safe mode|Lambda"):
        load_model(path)


@FAST
@given(cut=st.floats(0.0, 0.98))
def test_load_model_refuses_truncated_files(model_file, tmp_path_factory, cut):
    data = model_file.read_bytes()
    path = tmp_path_factory.mktemp("cut") / "model.keras"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ModelLoadError):
        load_model(path)


def test_load_model_refuses_non_zip_and_missing(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelLoadError, match="not a valid .keras file"):
        load_model(path)
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(tmp_path / "missing.keras")


def test_plot_command_reports_a_hostile_run_dir_cleanly(model_file, tmp_path):
    from keras_vae.runs import Run, RunError

    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(model_file.read_bytes()[:200])
    with pytest.raises(RunError, match="not a valid .keras file"):
        Run(str(run)).load_model()
