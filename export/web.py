"""The latent explorer: a static page beside the TFLite decoders that decodes z in the browser.

`keras-vae export RUN --out DIR --web` writes, into DIR/tflite/ next to the decoders:

    index.html, explorer.js           the page (its sources are web/page/ in the repository)
    explorer.json                     latent ranges, the map's plane, the variants, the classes
    decoder_<variant>_batch1.tflite   each decoder with its batch dimension fixed to 1: LiteRT.js
                                      2.5.3 cannot resize inputs and refuses the [-1, d] inputs
                                      of decoder_<variant>.tflite; otherwise the same bytes
                                      (weights, quantisation, ops), see `fixed_batch_copy`
    litertjs/core/index.js            LiteRT.js (npm @litertjs/core, pinned in web/package.json)
    litertjs/wasm-utils/index.js      its one dependency, mapped by the page's import map
    litertjs/wasm/litert_wasm_{,compat_}internal.{js,wasm}
                                      the WebAssembly runtime: the relaxed-SIMD build and the
                                      compat build for browsers without relaxed SIMD

The page then needs nothing but a static HTTP server (WebAssembly is not loaded from file://):
`cd DIR/tflite && python -m http.server`. It makes no request outside that folder.

The page and the runtime are package data, `keras_vae/export/web_assets/`, with a manifest.json
that lists them and the LiteRT.js version: building the package stages them from web/page/ and
the pinned npm package (setup.py), so an installed wheel needs neither npm nor a checkout. An
installation without them is refused before any work (`require_runtime`).

The map is the plane of the first two latent dimensions (z[0] across, z[1] up); the page says
so. Its range and the sliders' are center +- 3 scale per dimension, where center and scale are
the mean and standard deviation of the same latent draws the export report verifies on
(`keras_vae.export.family.latent_draws`: the prior for a VAE, the codes' scale for an autoencoder).
"""

import json
import os
import shutil

import numpy as np

from keras_vae.export import family
from keras_vae.models.capabilities import PRIOR

EXPLORER_FILE = "explorer.json"
ASSETS_MANIFEST = "manifest.json"
# The variants the page offers, in its menu's order (only those the export wrote).
PAGE_VARIANTS = ("float32", "float16", "dynamic_int8", "int8")
RANGE_DRAWS = 4096  # latent draws behind the map's and the sliders' ranges


class WebRuntimeMissing(FileNotFoundError):
    """The page's files or the LiteRT.js runtime are missing from this installation."""


def assets_dir():
    """Returns the folder of the page and the LiteRT.js runtime: keras_vae/export/web_assets/."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "web_assets")


def require_runtime(root=None):
    """Checks that the page and the LiteRT.js runtime are installed whole; returns their manifest.

    Args:
        root: str or None, the assets folder; default `assets_dir()`.

    Returns:
        dict: `{"litertjs_version": str, "files": [relative paths]}` from the folder's manifest.json.

    Raises:
        WebRuntimeMissing: the manifest or a file it lists is missing; the message says how to
            reinstall.
    """
    root = root or assets_dir()
    how = ("the installation of keras-vae is incomplete: reinstall it (`pip install --force-reinstall "
           "keras-vae`, or `bash scripts/install.sh` in a checkout, which stages them with npm), "
           "then export again; or export without --web")
    try:
        with open(os.path.join(root, ASSETS_MANIFEST), encoding="utf-8") as f:
            manifest = json.load(f)
        files = [str(name) for name in manifest["files"]]
        str(manifest["litertjs_version"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise WebRuntimeMissing(
            f"--web needs the page and the LiteRT.js runtime in {root}, but its {ASSETS_MANIFEST} cannot "
            f"be read ({type(err).__name__}: {err}): {how}."
        ) from None
    missing = [name for name in files if not os.path.isfile(os.path.join(root, name))]
    if missing:
        raise WebRuntimeMissing(
            f"--web needs the page and the LiteRT.js runtime in {root}, but {len(missing)} file(s) are "
            f"missing, e.g. {missing[0]}: {how}."
        )
    return manifest


def pinned_version(root=None):
    """Returns the version of LiteRT.js (npm @litertjs/core) installed with the page."""
    return require_runtime(root)["litertjs_version"]


def check_displayable(model):
    """Raises ValueError unless the model's data are images the page can draw: (H, W, 1 or 3).

    Example:
    >>> from keras_vae.models import build_model
    >>> check_displayable(build_model("vae", (8, 8, 1), latent_dim=2))
    >>> check_displayable(build_model("vae", (5,), latent_dim=2, likelihood="gaussian"))
    Traceback (most recent call last):
    ...
    ValueError: --web draws images of shape (height, width, 1 or 3); this model's data have shape (5,). Export without --web.
    """
    shape = tuple(int(d) for d in model.data_shape)
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise ValueError(
            f"--web draws images of shape (height, width, 1 or 3); this model's data have shape {shape}. "
            "Export without --web."
        )


def explorer_settings(model, variants, class_names=None, seed=0):
    """Returns the contents of explorer.json for a model and the TFLite variants written.

    Args:
        model: built model of any kind.
        variants: iterable of str, the variants the export wrote.
        class_names: list of str or None, shown in the class selector of a class-conditional model.
        seed: int, default 0.
    """
    latent_dim = int(model.latent_dim)
    if model.can(PRIOR) and type(model.prior).__name__ == "StandardNormal":
        center, scale = np.zeros(latent_dim), np.ones(latent_dim)  # exact: N(0, I)
    else:
        draws = family.latent_draws(model, RANGE_DRAWS, seed=seed)["z"]
        center, scale = draws.mean(axis=0), draws.std(axis=0)
        scale = np.where(scale > 1e-6, scale, 1.0)
    dims = [0, 1] if latent_dim >= 2 else [0, None]
    description = (
        "Map: the first two latent dimensions, z[0] across and z[1] up" if latent_dim >= 2
        else "Map: the only latent dimension, z[0], across"
    ) + ", each over its mean ± 3 standard deviations of " + report_draws(model) + "."
    offered = [v for v in PAGE_VARIANTS if v in set(variants)]
    if not offered:
        raise ValueError(f"--web needs at least one TFLite decoder of {PAGE_VARIANTS}; the export wrote {sorted(variants)}.")
    settings = {
        "map": {"dims": dims, "plane": "first two latent dimensions", "description": description},
        "center": [float(v) for v in center],
        "scale": [float(v) for v in scale],
        "variants": offered,
        "default_variant": offered[0],
        "litertjs_version": pinned_version(),
    }
    if class_names is not None:
        settings["class_names"] = [str(name) for name in class_names]
    return settings


def fixed_batch_copy(source, target):
    """Writes a copy of a .tflite model whose every tensor has a static shape (batch 1); returns `target`.

    The converter writes each tensor's allocated shape (batch 1) and a shape signature with -1
    for the batch; dropping the signatures leaves the static shapes. Weights, quantisation
    parameters, ops and buffers are untouched, so the copy computes what the original computes
    for one example (the tests check this in the Python interpreter and in the browser).
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(source)
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            if tensor.shapeSignature is not None and list(tensor.shape)[1:] == list(tensor.shapeSignature)[1:]:
                tensor.shapeSignature = None
    flatbuffer_utils.write_model(model, target)
    return target


def web_file(variant):
    """Returns the file name of the page's copy of a decoder variant.

    Example:
    >>> web_file("int8")
    'decoder_int8_batch1.tflite'
    """
    return f"decoder_{variant}_batch1.tflite"


def report_draws(model):
    """Says in words which draws the ranges come from."""
    if model.can(PRIOR):
        return f"draws from the model's {type(model.prior).__name__} prior"
    return "Gaussian draws at the scale of the model's codes (an autoencoder has no prior)"


def write_explorer(model, tflite_dir, variants, class_names=None, seed=0):
    """Writes the latent explorer page and its runtime into `tflite_dir`; returns the paths written.

    `tflite_dir` must already hold the decoders and decoder_metadata.json
    (`keras_vae.export.tflite.export_tflite_decoders`).

    Raises:
        WebRuntimeMissing: LiteRT.js is not installed (`require_runtime`).
        ValueError: the model's data are no images (`check_displayable`).

    Example:
    >>> write_explorer(model, "exports/default/tflite", ["float32", "int8"])  # doctest: +SKIP
    """
    manifest = require_runtime()
    check_displayable(model)
    written = []
    for name in manifest["files"]:
        path = os.path.join(tflite_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        written.append(shutil.copyfile(os.path.join(assets_dir(), name), path))
    settings = explorer_settings(model, variants, class_names=class_names, seed=seed)
    settings["files"] = {}
    for variant in settings["variants"]:
        path = fixed_batch_copy(os.path.join(tflite_dir, f"decoder_{variant}.tflite"), os.path.join(tflite_dir, web_file(variant)))
        settings["files"][variant] = {"file": web_file(variant), "bytes": os.path.getsize(path)}
        written.append(path)
    path = os.path.join(tflite_dir, EXPLORER_FILE)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(settings, f, indent=2)
        f.write("\n")
    written.append(path)
    return written
