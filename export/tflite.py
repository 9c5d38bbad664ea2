"""TFLite (LiteRT) decoders for on-device sampling: z -> pixel means.

Each variant is converted from a SavedModel holding one `decode` signature (not with
`TFLiteConverter.from_keras_model`, which fails on many Keras 3 models) and restricted
to builtin ops, so a stock LiteRT runtime without the Flex delegate runs it:

    float32        no optimisation; the reference
    float16        weights stored as float16, computed in float32
    dynamic_int8   weights int8, activations quantised on the fly (dynamic range)
    int8           full integer: weights and activations int8 (TFLITE_BUILTINS_INT8),
                   calibrated on latents; input z and the output stay float32
                   (quantize/dequantize at the edges), so callers feed N(0, I) draws
                   and get pixel values without knowing scales and zero points

Input: "z", float32 (batch, latent_dim). Output: the mean of p(x|z), float32
(batch, *data_shape): "probabilities" in [0, 1] for a Bernoulli likelihood, "mean"
for a Gaussian one. No random ops in the graph: draw z on the device.
`decoder_metadata.json` beside the files records the latent size, image shape and names.
"""

import json
import os
import re
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_vae.likelihoods import Bernoulli

VARIANTS = ("float32", "float16", "dynamic_int8", "int8")
METADATA_FILE = "decoder_metadata.json"
# Builtin op names are upper-case enum names; Flex ops ("FlexAddV2") and custom ops keep
# their own mixed-case codes.
_BUILTIN_OP = re.compile(r"[A-Z0-9_]+")


def output_name(model):
    """Returns the decoder output's name: "probabilities" (Bernoulli) or "mean" (others)."""
    return "probabilities" if isinstance(model.likelihood, Bernoulli) else "mean"


def write_decoder_saved_model(model, path):
    """Writes a SavedModel whose only signature, `decode`, maps z to E[x|z] (no checks, no random ops).

    Args:
        model: built VAE.
        path: str. Output directory.

    Example:
    >>> write_decoder_saved_model(model, "/tmp/decoder_sm")  # doctest: +SKIP
    """
    from keras_vae.export.saved_model import require_built

    require_built(model)
    name = output_name(model)

    def decode(z):
        return {name: model.likelihood.mean(model.decoder(z, training=False))}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "decode", decode, input_signature=[tf.TensorSpec((None, model.latent_dim), tf.float32, name="z")]
    )
    archive.write_out(path, verbose=False)
    return path


def calibration_latents(model, calibration_images=None, num_prior=256, seed=0):
    """Returns float32 latents (n, latent_dim) for int8 calibration.

    Prior draws cover what `sample` feeds the decoder; posterior means and one posterior
    sample per calibration image cover what reconstructions feed it (trained posteriors
    are much narrower than the prior, so both ranges matter).

    Args:
        model: built VAE.
        calibration_images: float array (n, *data_shape) or None.
        num_prior: int, default 256. Number of prior draws.
        seed: int, default 0.
    """
    rng = np.random.default_rng(seed)
    parts = [rng.standard_normal((num_prior, model.latent_dim)).astype("float32")]
    if calibration_images is not None and len(calibration_images):
        images = np.asarray(calibration_images, dtype="float32")
        z_mean, z_log_var = (np.asarray(t) for t in model.encoder(images, training=False))
        parts.append(z_mean)
        parts.append(z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal(z_mean.shape))
    return np.concatenate(parts).astype("float32")


def _converter(saved_model_dir, variant, latents):
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=["decode"])
    # Builtin ops only: a stock runtime without the Flex delegate must run every variant.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "dynamic_int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif variant == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]

        def representative_dataset():
            for z in latents:
                yield [z[None]]

        converter.representative_dataset = representative_dataset
        # inference_input_type/output_type stay float32: see the module docstring.
    elif variant != "float32":
        raise ValueError(f"Unknown TFLite variant {variant!r}; choose from {VARIANTS}.")
    return converter


def load_interpreter(path, num_threads=1):
    """Returns an allocated LiteRT interpreter for a .tflite file (ai_edge_litert, else tf.lite).

    Example:
    >>> interpreter = load_interpreter("out/tflite/decoder_float32.tflite")  # doctest: +SKIP
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - the "export" extra installs ai-edge-litert
        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def op_names(path):
    """Returns the sorted op names of a .tflite file, as written (before any delegate takes ops over).

    Example:
    >>> op_names("out/tflite/decoder_float32.tflite")  # doctest: +SKIP
    ['FULLY_CONNECTED', 'LOGISTIC', 'RESHAPE']
    """
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        # No default delegates: XNNPACK would replace the ops by DELEGATE nodes. No allocation:
        # a model with Flex ops fails to allocate here, but its ops can still be listed.
        interpreter = Interpreter(
            model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
    except ImportError:  # pragma: no cover
        interpreter = tf.lite.Interpreter(
            model_path=str(path),
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
    return sorted({op["op_name"] for op in interpreter._get_ops_details()})


def non_builtin_ops(path):
    """Returns the Flex or custom ops of a .tflite file (empty for a builtin-only model)."""
    return [name for name in op_names(path) if name.startswith("Flex") or not _BUILTIN_OP.fullmatch(name)]


def run_decoder(interpreter, z):
    """Decodes latents z (batch, latent_dim) with a loaded TFLite decoder; resizes the batch as needed.

    Example:
    >>> images = run_decoder(load_interpreter(path), np.zeros((4, 8), "float32"))  # doctest: +SKIP
    """
    z = np.asarray(z, dtype="float32")
    input_detail = interpreter.get_input_details()[0]
    latent_dim = int(input_detail["shape"][-1])
    if z.ndim != 2 or z.shape[1] != latent_dim:
        # The runtime's own message for this ("XNNPack delegate failed to reshape") names no input.
        raise ValueError(f"z must have shape (batch, {latent_dim}) for this decoder, got {z.shape}.")
    if tuple(input_detail["shape"]) != z.shape:
        interpreter.resize_tensor_input(input_detail["index"], list(z.shape))
        interpreter.allocate_tensors()
        input_detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(input_detail["index"], z)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def export_tflite_decoders(model, out_dir, calibration_images=None, variants=VARIANTS, seed=0):
    """Converts the VAE's decoder to TFLite variants; returns {variant: path} (plus "metadata").

    Args:
        model: built VAE.
        out_dir: str. Directory for `decoder_<variant>.tflite` and `decoder_metadata.json`.
        calibration_images: float array (n, *data_shape) or None. Adds posterior latents to
            the int8 calibration set (prior draws are always used).
        variants: sequence of str, default all of `VARIANTS`.
        seed: int, default 0. Seed of the calibration draws.

    Raises:
        ValueError: unbuilt model, unknown variant, or a variant that needs non-builtin ops.

    Example:
    >>> paths = export_tflite_decoders(model, "/tmp/tflite")  # doctest: +SKIP
    >>> sorted(paths)  # doctest: +SKIP
    ['dynamic_int8', 'float16', 'float32', 'int8', 'metadata']
    """
    from keras_vae.export.saved_model import require_built

    require_built(model)
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"Unknown TFLite variant {variant!r}; choose from {VARIANTS}.")
    os.makedirs(out_dir, exist_ok=True)
    latents = calibration_latents(model, calibration_images, seed=seed)
    paths = {}
    metadata = {
        "input": {"name": "z", "dtype": "float32", "shape": [None, int(model.latent_dim)]},
        "output": {"name": output_name(model), "dtype": "float32", "shape": [None, *map(int, model.data_shape)]},
        "latent_dim": int(model.latent_dim),
        "data_shape": [int(d) for d in model.data_shape],
        "likelihood": type(model.likelihood).__name__,
        "prior": "standard_normal N(0, I): feed z = standard normal draws to sample",
        "variants": {},
    }
    scratch = tempfile.mkdtemp(prefix=".decoder-sm-", dir=out_dir)
    try:
        saved_model_dir = write_decoder_saved_model(model, os.path.join(scratch, "decode"))
        for variant in variants:
            flatbuffer = _converter(saved_model_dir, variant, latents).convert()
            path = os.path.join(out_dir, f"decoder_{variant}.tflite")
            with open(path, "wb") as f:
                f.write(flatbuffer)
            bad = non_builtin_ops(path)
            if bad:
                os.remove(path)
                raise ValueError(f"TFLite {variant} decoder needs non-builtin ops {bad}; it would not run on stock LiteRT.")
            load_interpreter(path)  # fails here, not on a device, if the runtime cannot allocate it
            paths[variant] = path
            metadata["variants"][variant] = {
                "file": os.path.basename(path),
                "bytes": os.path.getsize(path),
                "ops": op_names(path),
            }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    metadata_path = os.path.join(out_dir, METADATA_FILE)
    with open(metadata_path, "w", encoding="utf-8") as f:
        json.dump(metadata, f, indent=2)
        f.write("\n")
    paths["metadata"] = metadata_path
    return paths
