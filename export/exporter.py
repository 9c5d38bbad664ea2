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
    tflite/index.html, explorer.js, ...    with web=True (--web): the latent explorer page and
                                           its LiteRT.js runtime (keras_vae.export.web)
    export_report.json                     sizes, errors vs Keras, latency (keras_vae.export.report)

The TFLite variants and their inputs: float32 and float16 decoders pass NaN latents through
(NaN images out); the int8 decoders (dynamic_int8, int8) quantise their inputs or activations,
which turns NaN into finite values, so a NaN z yields an ordinary-looking image with no error.
The SavedModel checks its inputs (NaN or infinite values are refused with an error), the
TFLite files cannot: check z on the device before decoding when it may hold NaN.

Everything is first written into a temporary directory beside OUT_DIR (`.OUT_DIR.export-XXXXXXXX`)
and then renamed into place, so a failed export leaves nothing behind. While an export runs it
holds the lock `.OUT_DIR.export.lock` beside OUT_DIR (keras_vae.locking): a second export to the
same OUT_DIR is refused with a message naming the first, and the temporary directories that a
killed export left behind are removed by the next export (which reports them). OUT_DIR must be
new, empty, or an earlier export: a file, or a folder holding anything else, is refused before
any work. An existing version directory is never overwritten; a later export of the same name
gets the next version and replaces tflite/ and export_report.json, which describe the newest version.
"""

import os
import re
import shutil
import tempfile

from keras_vae.export import quantization
from keras_vae.export import report as report_lib
from keras_vae.export import saved_model as saved_model_lib
from keras_vae.export import tflite as tflite_lib
from keras_vae.export import web as web_lib
from keras_vae.locking import OwnerLock
from keras_vae.runs import MODEL_FILE, Run

# What marks a directory as an earlier export (see the layout in the module docstring).
EXPORT_MARKERS = (report_lib.REPORT_FILE, "saved_model")


def temporary_prefix(out_dir):
    """Returns the name prefix of the temporary directories of exports to `out_dir`, which sit beside it.

    Example:
    >>> temporary_prefix("/exports/default")
    '.default.export-'
    """
    return f".{os.path.basename(os.path.abspath(out_dir))}.export-"


def lock_path(out_dir):
    """Returns the lock file that an export to `out_dir` holds, beside it (`keras_vae.locking.OwnerLock`).

    Example:
    >>> lock_path("/exports/default")
    '/exports/.default.export.lock'
    """
    out_dir = os.path.abspath(out_dir)
    return os.path.join(os.path.dirname(out_dir), f".{os.path.basename(out_dir)}.export.lock")


def check_destination(out_dir):
    """Raises unless `out_dir` may receive an export: it is new, empty, or an earlier export; writes nothing.

    Raises:
        NotADirectoryError: `out_dir` is a file.
        FileExistsError: `out_dir` is a folder holding other things than an export (an export
            replaces tflite/ and export_report.json in it).

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> _ = open(path, "w").write("notes")
    >>> check_destination(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    NotADirectoryError: --out .../notes.txt exists and is a file, not a directory; ...
    """
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NotADirectoryError(
            f"--out {out_dir} exists and is a file, not a directory; an export writes a directory, so choose "
            "another --out."
        )
    if not os.path.isdir(out_dir):
        return
    entries = sorted(os.listdir(out_dir))
    if entries and not any(marker in entries for marker in EXPORT_MARKERS):
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise FileExistsError(
            f"--out {out_dir} is a folder that is not a keras-vae export (it holds {shown}, and no "
            f"{report_lib.REPORT_FILE} or saved_model/); an export would replace tflite/ and "
            f"{report_lib.REPORT_FILE} there. Choose a new or empty folder, or an earlier export."
        )


def remove_leftovers(out_dir):
    """Removes the temporary directories that killed exports to `out_dir` left beside it; returns their paths.

    Call it only while holding the export lock of `out_dir`: then no live export owns them.
    """
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    pattern = re.compile(re.escape(temporary_prefix(out_dir)) + r"[a-z0-9_]{8}")
    removed = []
    for name in sorted(os.listdir(parent)):
        path = os.path.join(parent, name)
        if pattern.fullmatch(name) and os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
            removed.append(path)
    return removed


def export_model(model, out_dir, name="vae", version=None, calibration_images=None, num_draws=1000, seed=0,
                 web=False, model_base_path=None):
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
        web: bool, default False. Also write the latent explorer page (`keras_vae.export.web`).
        model_base_path: str or None. The model's base path in models.config as TF Serving will
            see it (e.g. "/models/vae" in a container); default this export's own absolute path.

    Raises:
        ValueError: another kind of model, an unbuilt one, an unsafe name
            (`saved_model.check_model_name`), a relative model_base_path or one with a control
            character, or web=True for data that are no images. NotADirectoryError, FileExistsError: see `export_run`.
        keras_vae.export.web.WebRuntimeMissing (a FileNotFoundError): web=True without LiteRT.js.

    Example (`export_run` shows a whole export):
    >>> import tempfile
    >>> from keras_vae import VAE, MLPDecoder, MLPEncoder
    >>> export_model(VAE(MLPEncoder(2), MLPDecoder((4,))), tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    ValueError: Cannot export an unbuilt model: its input shape and latent size are unknown. ...
    """
    saved_model_lib.require_built(model)
    saved_model_lib.check_model_name(name)
    check_model_base_path(model_base_path)
    if web:  # refuse before any work
        web_lib.require_runtime()
        web_lib.check_displayable(model)
    out_dir = os.path.abspath(out_dir)
    check_destination(out_dir)
    os.makedirs(os.path.dirname(out_dir), exist_ok=True)
    with OwnerLock(lock_path(out_dir), "keras-vae export"):
        check_destination(out_dir)  # again, now that no other export can change it
        return _export_locked(model, out_dir, name, version, calibration_images, num_draws, seed, web, model_base_path)


def _export_locked(model, out_dir, name, version, calibration_images, num_draws, seed, web, model_base_path):
    """`export_model` while holding the export lock of `out_dir`."""
    removed = remove_leftovers(out_dir)
    model_dir = os.path.join(out_dir, "saved_model", name)
    version = saved_model_lib.next_version(model_dir) if version is None else int(version)
    if version < 1:
        raise ValueError(f"version must be a positive integer, got {version}.")
    target_version = os.path.join(model_dir, str(version))
    if os.path.exists(target_version):
        raise FileExistsError(f"{target_version} exists already; export versions are never overwritten.")
    tmp = tempfile.mkdtemp(prefix=temporary_prefix(out_dir), dir=os.path.dirname(out_dir))
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
        result["removed_leftovers"] = removed
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
    """Raises ValueError unless `model_base_path` is None or an absolute one-line POSIX path (TF Serving's view).

    Args:
        model_base_path: str or None. The --model-base-path of an export.

    Example:
    >>> check_model_base_path("/models/vae")
    >>> check_model_base_path("/models/vae\\nmodel_platform: x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --model-base-path '/models/vae\\nmodel_platform: x' contains a control character ...
    """
    if model_base_path is None:
        return
    if not str(model_base_path).startswith("/"):
        raise ValueError(
            f"--model-base-path must be an absolute path as the server sees it (e.g. /models/vae), "
            f"got {model_base_path!r}."
        )
    # models.config escapes any character, but a newline or tab in a path is a pasting slip, not a folder.
    if any(ord(char) < 32 or ord(char) == 127 for char in model_base_path):
        raise ValueError(
            f"--model-base-path {model_base_path!r} contains a control character (a newline, tab, ...); give the "
            "model's folder as the server sees it, on one line (e.g. /models/vae)."
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
        FileNotFoundError: no run_dir or no model.keras in it (`keras_vae.runs.RunNotFoundError`),
            or web=True without LiteRT.js.
        ValueError: a corrupt model.keras or a model of another kind, an unsafe name, or a bad
            model_base_path (`check_model_base_path`).
        NotADirectoryError, FileExistsError: `out_dir` is a file or a folder that is not an export
            (`check_destination`), another export to it is running (`keras_vae.locking.LockHeld`),
            or the version exists.

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
    if web:  # refuse before loading the model
        web_lib.require_runtime()
    saved_model_lib.check_model_name(name)
    check_model_base_path(model_base_path)
    check_destination(out_dir)  # before loading anything: a wrong --out fails at once
    model = Run(run_dir).load_model()  # RunModelError (a ModelLoadError) names the file and the problem
    try:
        saved_model_lib.require_built(model)
    except ValueError as error:
        raise ValueError(f"{os.path.join(run_dir, MODEL_FILE)}: {error}") from error
    return export_model(model, out_dir, name=name, version=version, num_draws=num_draws, seed=seed,
                        web=web, model_base_path=model_base_path)
