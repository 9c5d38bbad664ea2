"""Exports a training run (RUN_DIR/model.keras) to SavedModel + TFLite with a verification report.

Every model kind `keras-vae train --model` writes goes through the same pipeline; only
the signatures, the decoder's inputs and the latent draws differ (`keras_vae.export.family`):

    vae       encode, decode, reconstruct, sample, elbo; decoder z -> E[x|z]
    cvae      the same signatures, each taking the condition too; decoder (z, condition)
    ae, dae   encode, decode, reconstruct (no prior: no sample, no elbo); decoder z -> E[x|z]

Layout of OUT_DIR:

    saved_model/models.config              TF Serving model config (--model_config_file)
    saved_model/<name>/<version>/          SavedModel, signatures: see keras_vae.export.saved_model
    tflite/decoder_<variant>.tflite        float32, float16, dynamic_int8, int8
    tflite/decoder_metadata.json           kind, inputs, image shape, how to draw z
    tflite/index.html, explorer.js, ...    with web=True (--web): the latent explorer page and
                                           its LiteRT.js runtime (keras_vae.export.web)
    export_report.json                     sizes, errors vs Keras, latency (keras_vae.export.report)

Everything is first written into a temporary directory beside OUT_DIR and then renamed
into place, so a failed export leaves nothing behind. An existing version directory is
never overwritten; a later export of the same name gets the next version and replaces
tflite/ and export_report.json, which describe the newest version.
"""

import os
import shutil
import tempfile

from keras_vae.export import quantization
from keras_vae.export import report as report_lib
from keras_vae.export import saved_model as saved_model_lib
from keras_vae.export import tflite as tflite_lib
from keras_vae.export import web as web_lib
from keras_vae.models import loading

def load_run_model(run_dir):
    """Returns the built model from `run_dir/model.keras`, checked to be a kind we export.

    Raises:
        FileNotFoundError: run_dir is no directory, or holds no model.keras.
        ValueError: model.keras is corrupt or unsafe (`ModelLoadError`), holds a model of
            another kind than `family.KINDS`, or an unbuilt one.

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


def export_model(model, out_dir, name="vae", version=None, calibration_images=None, num_draws=1000, seed=0,
                 web=False, model_base_path=None):
    """Exports a built model of any kind to `out_dir` (layout in the module docstring); returns the report.

    Args:
        model: built VAE, ConditionalVAE, Autoencoder or DenoisingAutoencoder.
        out_dir: str.
        name: str, default "vae". Served model name.
        version: int or None, default None (next free version).
        calibration_images: float array or None. Real images for the int8 calibration; None
            uses what the model alone provides (`keras_vae.export.family.calibration_inputs`).
        num_draws: int, default 1000. Latent draws for the TFLite error figures.
        seed: int, default 0.
        web: bool, default False. Also write the latent explorer page (`keras_vae.export.web`).
        model_base_path: str or None. The model's base path in models.config as TF Serving will
            see it (e.g. "/models/vae" in a container); default this export's own absolute path.

    Raises:
        ValueError: another kind of model, an unbuilt one, a relative model_base_path, or web=True
        for data that are no images. FileExistsError: the version exists already.
        keras_vae.export.web.WebRuntimeMissing (a FileNotFoundError): web=True without LiteRT.js.

    Example:
    >>> report = export_model(model, "/tmp/export")  # doctest: +SKIP
    """
    saved_model_lib.require_built(model)
    check_model_base_path(model_base_path)
    if web:  # refuse before any work
        web_lib.require_runtime()
        web_lib.check_displayable(model)
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
            os.path.join(tmp, "saved_model"), name, base_path_prefix=os.path.join(out_dir, "saved_model"),
            model_base_path=model_base_path,
        )
        tflite_paths = tflite_lib.export_tflite_decoders(model, os.path.join(tmp, "tflite"), calibration_images, seed=seed)
        if web:
            variants = [variant for variant in tflite_paths if variant != "metadata"]
            web_lib.write_explorer(model, os.path.join(tmp, "tflite"), variants, seed=seed)
        result = report_lib.build_report(model, version_dir, tflite_paths, num_draws=num_draws, seed=seed)
        # Paths as they will be after the move.
        result["saved_model"]["path"] = target_version
        result["name"], result["version"] = name, version
        result["refused_variants"] = quantization.refused_variants(model)
        for entry in result["tflite"].values():
            entry["path"] = os.path.join(out_dir, "tflite", entry["file"])
        if web:
            result["web"] = {
                "page": os.path.join(out_dir, "tflite", "index.html"),
                "serve": f"cd {os.path.join(out_dir, 'tflite')} && python -m http.server 8000",
            }
        report_lib.write_report(result, os.path.join(tmp, report_lib.REPORT_FILE))
        _move_into_place(tmp, out_dir, name, version)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def check_model_base_path(model_base_path):
    """Raises ValueError unless `model_base_path` is None or an absolute POSIX path (TF Serving's view)."""
    if model_base_path is not None and not str(model_base_path).startswith("/"):
        raise ValueError(
            f"--model-base-path must be an absolute path as the server sees it (e.g. /models/vae), "
            f"got {model_base_path!r}."
        )


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


def export_run(run_dir, out_dir, name="vae", version=None, num_draws=1000, seed=0, web=False, model_base_path=None):
    """Exports RUN_DIR/model.keras to OUT_DIR; returns the report dict (also in export_report.json).

    Args:
        run_dir: str. A run directory written by `keras-vae train`.
        out_dir: str. Export directory (layout in the module docstring).
        name: str, default "vae".
        version: int or None, default None (next free version).
        num_draws: int, default 1000. Latent draws for the TFLite error figures.
        seed: int, default 0.
        web: bool, default False. Also write the latent explorer page (see `export_model`).
        model_base_path: str or None. models.config's base path (see `export_model`).

    Raises:
        FileNotFoundError: no run_dir or no model.keras in it, or web=True without LiteRT.js. ValueError: a corrupt model.keras or
        a model of another kind. FileExistsError: the version exists.

    Example:
    >>> report = export_run("runs/default", "exports/default")  # doctest: +SKIP
    >>> report["tflite"]["int8"]["max_abs_pixel_difference"] < 0.05  # doctest: +SKIP
    True
    """
    if web:  # refuse before loading the model
        web_lib.require_runtime()
    check_model_base_path(model_base_path)
    model = load_run_model(run_dir)
    return export_model(model, out_dir, name=name, version=version, num_draws=num_draws, seed=seed,
                        web=web, model_base_path=model_base_path)
