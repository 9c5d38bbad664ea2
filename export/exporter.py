"""Exports a training run (RUN_DIR/model.keras) to SavedModel + TFLite with a verification report.

Layout of OUT_DIR:

    saved_model/models.config              TF Serving model config (--model_config_file)
    saved_model/<name>/<version>/          SavedModel, signatures: see keras_vae.export.saved_model
    tflite/decoder_<variant>.tflite        float32, float16, dynamic_int8, int8
    tflite/decoder_metadata.json           latent size, image shape, tensor names
    export_report.json                     sizes, errors vs Keras, latency (keras_vae.export.report)

Everything is first written into a temporary directory beside OUT_DIR and then renamed
into place, so a failed export leaves nothing behind. An existing version directory is
never overwritten; a later export of the same name gets the next version and replaces
tflite/ and export_report.json, which describe the newest version.
"""

import os
import shutil
import tempfile

import numpy as np

from keras_vae.export import report as report_lib
from keras_vae.export import saved_model as saved_model_lib
from keras_vae.export import tflite as tflite_lib
from keras_vae.models.loading import load_model

MODEL_FILE = "model.keras"


def load_run_model(run_dir):
    """Returns the built VAE from `run_dir/model.keras`; FileNotFoundError if there is none."""
    path = os.path.join(run_dir, MODEL_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no {MODEL_FILE} in {run_dir}; train first with keras-vae train")
    model = load_model(path)
    saved_model_lib.require_built(model)
    return model


def _calibration_images(model, count=256, seed=0):
    # The run directory holds no data; images decoded from prior draws are in the model's
    # own distribution, and their posterior latents cover what reconstructions feed the decoder.
    return np.asarray(model.sample(count, seed=seed), dtype="float32")


def export_model(model, out_dir, name="vae", version=None, calibration_images=None, num_draws=1000, seed=0):
    """Exports a built VAE to `out_dir` (layout in the module docstring); returns the report dict.

    Args:
        model: built VAE.
        out_dir: str.
        name: str, default "vae". Served model name.
        version: int or None, default None (next free version).
        calibration_images: float array or None (decoded prior samples). int8 calibration data.
        num_draws: int, default 1000. Prior draws for the TFLite error figures.
        seed: int, default 0.

    Raises:
        ValueError: unbuilt model. FileExistsError: the version exists already.

    Example:
    >>> report = export_model(model, "/tmp/export")  # doctest: +SKIP
    """
    saved_model_lib.require_built(model)
    out_dir = os.path.abspath(out_dir)
    model_dir = os.path.join(out_dir, "saved_model", name)
    version = saved_model_lib.next_version(model_dir) if version is None else int(version)
    if version < 1:
        raise ValueError(f"version must be a positive integer, got {version}.")
    target_version = os.path.join(model_dir, str(version))
    if os.path.exists(target_version):
        raise FileExistsError(f"{target_version} exists already; export versions are never overwritten.")
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.export-", dir=parent)
    try:
        version_dir = saved_model_lib.export_saved_model(model, os.path.join(tmp, "saved_model"), name, version)
        saved_model_lib.write_models_config(
            os.path.join(tmp, "saved_model"), name, base_path_prefix=os.path.join(out_dir, "saved_model")
        )
        if calibration_images is None:
            calibration_images = _calibration_images(model, seed=seed)
        tflite_paths = tflite_lib.export_tflite_decoders(model, os.path.join(tmp, "tflite"), calibration_images, seed=seed)
        result = report_lib.build_report(model, version_dir, tflite_paths, num_draws=num_draws, seed=seed)
        # Paths as they will be after the move.
        result["saved_model"]["path"] = target_version
        result["name"], result["version"] = name, version
        for entry in result["tflite"].values():
            entry["path"] = os.path.join(out_dir, "tflite", entry["file"])
        report_lib.write_report(result, os.path.join(tmp, report_lib.REPORT_FILE))
        _move_into_place(tmp, out_dir, name, version)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _move_into_place(tmp, out_dir, name, version):
    if not os.path.exists(out_dir):
        os.rename(tmp, out_dir)  # the common case: one atomic rename
        return
    model_dir = os.path.join(out_dir, "saved_model", name)
    os.makedirs(model_dir, exist_ok=True)
    target = os.path.join(model_dir, str(version))
    if os.path.exists(target):  # appeared while we exported
        raise FileExistsError(f"{target} exists already; export versions are never overwritten.")
    os.rename(os.path.join(tmp, "saved_model", name, str(version)), target)
    os.replace(os.path.join(tmp, "saved_model", "models.config"), os.path.join(out_dir, "saved_model", "models.config"))
    old_tflite = os.path.join(out_dir, "tflite")
    if os.path.exists(old_tflite):
        os.rename(old_tflite, os.path.join(tmp, "old_tflite"))  # removed with tmp
    os.rename(os.path.join(tmp, "tflite"), old_tflite)
    os.replace(os.path.join(tmp, report_lib.REPORT_FILE), os.path.join(out_dir, report_lib.REPORT_FILE))


def export_run(run_dir, out_dir, name="vae", version=None, num_draws=1000, seed=0):
    """Exports RUN_DIR/model.keras to OUT_DIR; returns the report dict (also in export_report.json).

    Args:
        run_dir: str. A run directory written by `keras-vae train`.
        out_dir: str. Export directory (layout in the module docstring).
        name: str, default "vae".
        version: int or None, default None (next free version).
        num_draws: int, default 1000. Prior draws for the TFLite error figures.
        seed: int, default 0.

    Raises:
        FileNotFoundError: no model.keras in run_dir. FileExistsError: the version exists.

    Example:
    >>> report = export_run("runs/default", "exports/default")  # doctest: +SKIP
    >>> report["tflite"]["int8"]["max_abs_pixel_difference"] < 0.05  # doctest: +SKIP
    True
    """
    model = load_run_model(run_dir)
    return export_model(model, out_dir, name=name, version=version, num_draws=num_draws, seed=seed)
