"""Exports a training run (RUN_DIR/model.keras) to SavedModel + TFLite with a verification report.

Every model kind `keras-vae train --model` writes goes through the same pipeline. The
signatures are the model's own (`model.export_endpoints()`); the decoder's inputs and the
latent draws follow from what it can do (`keras_vae.export.family`):

    vae       reconstruct, encode, decode, sample, elbo; decoder z -> E[x|z]
    cvae      the same signatures, each taking the condition too; decoder (z, condition)
    ae, dae   reconstruct, encode, decode (no prior: no sample, no elbo); decoder z -> E[x|z]

Layout of OUT_DIR:

    saved_model/models.config              TF Serving model config (--model_config_file)
    saved_model/<name>/<version>/          SavedModel, signatures: see keras_vae.export.saved_model
    tflite/decoder_<variant>.tflite        float32, float16, dynamic_int8, int8
    tflite/decoder_metadata.json           kind, inputs, image shape, how to draw z
    export_report.json                     sizes, errors vs Keras, latency (keras_vae.export.report)

Everything is first written into a temporary directory beside OUT_DIR and then renamed
into place, so a failed export leaves nothing behind. An existing version directory is
never overwritten; a later export of the same name gets the next version and replaces
tflite/ and export_report.json, which describe the newest version.
"""

import os
import shutil
import tempfile

from keras_vae.export import report as report_lib
from keras_vae.export import saved_model as saved_model_lib
from keras_vae.export import tflite as tflite_lib
from keras_vae.models import loading

def load_run_model(run_dir):
    """Returns the built model from `run_dir/model.keras`, checked to be a kind we export.

    Raises:
        FileNotFoundError: run_dir is no directory, or holds no model.keras.
        ValueError: model.keras is corrupt or unsafe (`ModelLoadError`), holds no keras_vae
            model, or an unbuilt one.

    Example:
    >>> load_run_model("/nonexistent/run")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: run directory /nonexistent/run not found (it does not exist or is no directory); ...
    """
    model = loading.load_run_model(run_dir)  # ModelLoadError (a ValueError) names the file and the problem
    try:
        saved_model_lib.require_built(model)
    except ValueError as error:
        raise ValueError(f"{os.path.join(run_dir, loading.MODEL_FILE)}: {error}") from error
    return model


def export_model(model, out_dir, name="vae", version=None, calibration_images=None, num_draws=1000, seed=0):
    """Exports a built model of any kind to `out_dir` (layout in the module docstring); returns the report.

    Args:
        model: built keras_vae model of any kind.
        out_dir: str.
        name: str, default "vae". Served model name.
        version: int or None, default None (next free version).
        calibration_images: float array or None. Real images for the int8 calibration; None
            uses what the model alone provides (`keras_vae.export.family.calibration_inputs`).
        num_draws: int, default 1000. Latent draws for the TFLite error figures.
        seed: int, default 0.

    Raises:
        ValueError: another kind of model, or an unbuilt one. FileExistsError: the version exists already.

    Example (`export_run` shows a whole export):
    >>> import tempfile
    >>> from keras_vae import VAE, MLPDecoder, MLPEncoder
    >>> export_model(VAE(MLPEncoder(2), MLPDecoder((4,))), tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    ValueError: Cannot export an unbuilt model: its input shape and latent size are unknown. ...
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
        num_draws: int, default 1000. Latent draws for the TFLite error figures.
        seed: int, default 0.

    Raises:
        FileNotFoundError: no run_dir or no model.keras in it. ValueError: a corrupt model.keras or
        a model of another kind. FileExistsError: the version exists.

    Example:
    >>> import tempfile
    >>> from keras_vae.models.builder import build_model
    >>> run_dir, out_dir = tempfile.mkdtemp(), os.path.join(tempfile.mkdtemp(), "exported")
    >>> build_model("vae", (4,), latent_dim=2, likelihood="gaussian").save(os.path.join(run_dir, "model.keras"))
    >>> report = export_run(run_dir, out_dir, num_draws=20)
    >>> report["version"], sorted(report["tflite"])
    (1, ['dynamic_int8', 'float16', 'float32', 'int8'])
    >>> sorted(os.listdir(out_dir))
    ['export_report.json', 'saved_model', 'tflite']
    """
    model = load_run_model(run_dir)
    return export_model(model, out_dir, name=name, version=version, num_draws=num_draws, seed=seed)
