"""TFLite (LiteRT) decoders for on-device sampling: z (and a model's condition) -> pixel means.

Each variant is converted from a SavedModel holding one `decode` signature (not with
`TFLiteConverter.from_keras_model`, which fails on many Keras 3 models) and restricted
to builtin ops, so a stock LiteRT runtime without the Flex delegate runs it:

    float32        no optimisation; the reference
    float16        weights stored as float16, computed in float32
    dynamic_int8   weights int8, activations quantised on the fly (dynamic range)
    int8           full integer: weights and activations int8 (TFLITE_BUILTINS_INT8),
                   calibrated on latents (`keras_vae.export.family.calibration_inputs`);
                   the inputs and the output stay float32 (quantize/dequantize at the
                   edges), so callers feed latents and get pixel values without knowing
                   scales and zero points

Inputs: "z", float32 (batch, latent_dim); for a model that takes a condition also
"condition", float32 (batch, dim), the one-hot label of a class model
(`keras_vae.export.family.decoder_input_specs`). The order of a model's input tensors
is the converter's, not the signature's: look inputs up by name through the "decode"
signature (`run_decoder` does). Output: the mean of p(x|z), float32 (batch,
*data_shape), named by the likelihood (`Likelihood.mean_name`): "probabilities" in
[0, 1] for a Bernoulli likelihood, "mean" for the others. No random ops in the graph:
draw z on the device. `decoder_metadata.json` beside the files records the kind, the
inputs, the image shape, and how to draw z (the prior's components for a mixture or VampPrior).
"""

import json
import os
import re
import shutil
import tempfile
import warnings

import numpy as np
import tensorflow as tf

from keras_vae.export import family
from keras_vae.export.quantization import refused_variants
from keras_vae.export.saved_model import new_archive, require_built
from keras_vae.models.builder import model_kind_name
from keras_vae.models.capabilities import CLASSIFY

VARIANTS = ("float32", "float16", "dynamic_int8", "int8")
METADATA_FILE = "decoder_metadata.json"
# Builtin op names are upper-case enum names; Flex ops ("FlexAddV2") and custom ops keep
# their own mixed-case codes.
_BUILTIN_OP = re.compile(r"[A-Z0-9_]+")


def write_decoder_saved_model(model, path):
    """Writes a SavedModel whose only signature, `decode`, maps z (and a model's condition) to E[x|z].

    No checks and no random ops, so every op converts to a builtin TFLite op.

    Args:
        model: built keras_vae model of any kind.
        path: str. Output directory.

    Example:
    >>> import os, tempfile
    >>> from keras_vae.models.builder import build_model
    >>> model = build_model("vae", (4,), latent_dim=2, likelihood="gaussian")
    >>> path = write_decoder_saved_model(model, os.path.join(tempfile.mkdtemp(), "decoder"))
    >>> sorted(tf.saved_model.load(path).signatures)  # the one signature is also the default
    ['decode', 'serving_default']
    """
    require_built(model)
    name = model.likelihood.mean_name

    def decode(z, condition=None):
        return {name: model.likelihood.mean(family.decoder_parameters(model, z, condition))}

    archive = new_archive(model)
    archive.add_endpoint("decode", decode, input_signature=family.decoder_input_specs(model))
    archive.write_out(path, verbose=False)
    return path


def _converter(saved_model_dir, variant, inputs):
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
        count = len(inputs["z"])

        def representative_dataset():
            # Dicts keyed by the signature's input names: the converter orders inputs its own way.
            for i in range(count):
                yield {key: value[i : i + 1] for key, value in inputs.items()}

        converter.representative_dataset = representative_dataset
        # inference_input_type/output_type stay float32: see the module docstring.
    elif variant != "float32":
        raise ValueError(f"Unknown TFLite variant {variant!r}; choose from {VARIANTS}.")
    return converter


def convert_decoder(saved_model_dir, variant, path, calibration=None):
    """Converts a decoder SavedModel (`write_decoder_saved_model`) to one TFLite variant at `path`.

    Args:
        saved_model_dir: str.
        variant: str, one of `VARIANTS`.
        path: str, the .tflite file to write.
        calibration: dict of decoder inputs (`family.calibration_inputs`); needed for "int8".

    Raises:
        ValueError: unknown variant, or a model that needs non-builtin (Flex/custom) ops.

    Example:
    >>> import os, tempfile
    >>> from keras_vae.models.builder import build_model
    >>> tmp = tempfile.mkdtemp()
    >>> decoder = write_decoder_saved_model(build_model("vae", (4,), latent_dim=2), os.path.join(tmp, "decoder"))
    >>> path = convert_decoder(decoder, "float16", os.path.join(tmp, "decoder_float16.tflite"))
    >>> non_builtin_ops(path)
    []
    """
    if variant == "int8" and calibration is None:
        raise ValueError("The int8 variant needs calibration inputs (keras_vae.export.family.calibration_inputs).")
    with warnings.catch_warnings():
        # TensorFlow's own int8 calibrator runs its deprecated tf.lite.Interpreter and warns each
        # time; keras-vae itself checks every file with ai_edge_litert (`load_interpreter`).
        warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated", category=UserWarning)
        flatbuffer = _converter(saved_model_dir, variant, calibration).convert()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    bad = non_builtin_ops(path)
    if bad:
        os.remove(path)
        raise ValueError(f"TFLite {variant} decoder needs non-builtin ops {bad}; it would not run on stock LiteRT.")
    load_interpreter(path)  # fails here, not on a device, if the runtime cannot allocate it
    return path


CLASSIFIER_FILE = "classifier_float32.tflite"


def export_tflite_classifier(model, path):
    """Converts a CLASSIFY model's q(y|x) to a float32 TFLite file with builtin ops only; returns `path`.

    The one signature, `classify`, maps images (1+, *data_shape) float32 to
    `probabilities` (batch, num_classes): softmax of the classifier's logits.

    Raises:
        ValueError: a model without a classifier, or one that needs non-builtin ops.

    Example:
    >>> import os, tempfile
    >>> from keras_vae.models.builder import build_model
    >>> model = build_model("m2", (4,), latent_dim=2, num_classes=3, likelihood="gaussian")
    >>> path = export_tflite_classifier(model, os.path.join(tempfile.mkdtemp(), "classifier_float32.tflite"))
    >>> non_builtin_ops(path)
    []
    """
    require_built(model)
    if not model.can(CLASSIFY):
        raise ValueError(f"{type(model).__name__} has no classifier q(y|x) to export.")

    def classify(images):
        return {"probabilities": tf.nn.softmax(model.class_logits(images, training=False), axis=-1)}

    scratch = tempfile.mkdtemp(prefix=".classifier-sm-", dir=os.path.dirname(os.path.abspath(path)))
    try:
        archive = new_archive(model)
        spec = tf.TensorSpec((None, *map(int, model.data_shape)), tf.float32, name="images")
        archive.add_endpoint("classify", classify, input_signature=[spec])
        archive.write_out(scratch, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(scratch, signature_keys=["classify"])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = converter.convert()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    bad = non_builtin_ops(path)
    if bad:
        os.remove(path)
        raise ValueError(f"TFLite classifier needs non-builtin ops {bad}; it would not run on stock LiteRT.")
    load_interpreter(path)
    return path


def load_interpreter(path, num_threads=1):
    """Returns an allocated LiteRT interpreter (ai_edge_litert, the phones' runtime) for a .tflite file.

    Example:
    >>> import tempfile
    >>> from keras_vae.models.builder import build_model
    >>> path = export_tflite_decoders(build_model("vae", (4,), latent_dim=2), tempfile.mkdtemp(), variants=["float32"])
    >>> [detail["name"] for detail in load_interpreter(path["float32"]).get_output_details()]
    ['StatefulPartitionedCall:0']
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def op_names(path):
    """Returns the sorted op names of a .tflite file, as written (before any delegate takes ops over).

    Example:
    >>> import tempfile
    >>> from keras_vae.models.builder import build_model
    >>> path = export_tflite_decoders(build_model("vae", (4,), latent_dim=2), tempfile.mkdtemp(), variants=["float32"])
    >>> op_names(path["float32"])
    ['FULLY_CONNECTED', 'LOGISTIC', 'RESHAPE']
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # No default delegates: XNNPACK would replace the ops by DELEGATE nodes. No allocation:
    # a model with Flex ops fails to allocate here, but its ops can still be listed.
    interpreter = Interpreter(
        model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    return sorted({op["op_name"] for op in interpreter._get_ops_details()})


def non_builtin_ops(path):
    """Returns the Flex or custom ops of a .tflite file (empty for a builtin-only model)."""
    return [name for name in op_names(path) if name.startswith("Flex") or not _BUILTIN_OP.fullmatch(name)]


def decoder_input_details(interpreter):
    """Returns `{input name: tensor details}` of a TFLite decoder: "z", and "condition" for a conditional model."""
    return interpreter.get_signature_runner("decode").get_input_details()


def feed_decoder(interpreter, inputs):
    """Sets a decoder's inputs `{name: array}` by name and invokes it; returns the output tensor's index.

    The arrays must match the allocated shapes (`run_decoder` resizes); the report times this call.
    """
    details = decoder_input_details(interpreter)
    for key, value in inputs.items():
        interpreter.set_tensor(details[key]["index"], value)
    interpreter.invoke()
    return interpreter.get_output_details()[0]["index"]


def run_decoder(interpreter, z, condition=None):
    """Decodes latents z (batch, latent_dim), and a model's float condition, with a loaded TFLite decoder.

    Resizes the batch as needed.

    Args:
        interpreter: from `load_interpreter`.
        z: float array (batch, latent_dim).
        condition: float array (batch, dim) or None; one-hot labels for a class model.

    Example:
    >>> import tempfile
    >>> from keras_vae.models.builder import build_model
    >>> model = build_model("cvae", (4,), latent_dim=2, num_classes=3)
    >>> path = export_tflite_decoders(model, tempfile.mkdtemp(), variants=["float32"])["float32"]
    >>> z, labels = np.zeros((5, 2), "float32"), np.array([0, 1, 2, 0, 1])
    >>> images = run_decoder(load_interpreter(path), z, np.eye(3, dtype="float32")[labels])
    >>> images.shape, bool(np.allclose(images, model.decode(z, labels), atol=1e-5))
    ((5, 4), True)
    """
    inputs = {"z": np.asarray(z, dtype="float32")}
    if condition is not None:
        inputs["condition"] = np.asarray(condition, dtype="float32")
    details = decoder_input_details(interpreter)
    if sorted(details) != sorted(inputs):
        raise ValueError(f"This decoder takes the inputs {sorted(details)}; got {sorted(inputs)}.")
    resized = False
    for key, value in inputs.items():
        width = int(details[key]["shape"][-1])
        if value.ndim != 2 or value.shape[1] != width or value.shape[0] != inputs["z"].shape[0]:
            # The runtime's own message for this ("XNNPack delegate failed to reshape") names no input.
            raise ValueError(f"{key} must have shape (batch, {width}) for this decoder, got {value.shape}.")
        if tuple(details[key]["shape"]) != value.shape:
            interpreter.resize_tensor_input(details[key]["index"], list(value.shape))
            resized = True
    if resized:
        interpreter.allocate_tensors()
    return interpreter.get_tensor(feed_decoder(interpreter, inputs)).copy()


def export_tflite_decoders(model, out_dir, calibration_images=None, variants=VARIANTS, seed=0):
    """Converts the model's decoder to TFLite variants; returns {variant: path} (plus "metadata").

    Args:
        model: built keras_vae model of any kind.
        out_dir: str. Directory for `decoder_<variant>.tflite` and `decoder_metadata.json`.
        calibration_images: float array (n, *data_shape) or None. Real images whose latents
            join the int8 calibration set (`family.calibration_inputs` says what None uses).
        variants: sequence of str, default all of `VARIANTS`.
        seed: int, default 0. Seed of the calibration draws.

    Variants `keras_vae.export.quantization.refused_variants` names for the model (int8 of the
    continuous Bernoulli and discretized logistic likelihoods) are not written; the metadata's
    "refused_variants" says why.

    Raises:
        ValueError: unbuilt model, unknown variant, or a variant that needs non-builtin ops.

    Example:
    >>> import tempfile
    >>> from keras_vae.models.builder import build_model
    >>> paths = export_tflite_decoders(build_model("ae", (4,), latent_dim=2), tempfile.mkdtemp(), variants=["int8"])
    >>> sorted(paths)
    ['int8', 'metadata']
    >>> json.load(open(paths["metadata"]))["output"]
    {'name': 'probabilities', 'dtype': 'float32', 'shape': [None, 4]}
    """

    require_built(model)
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"Unknown TFLite variant {variant!r}; choose from {VARIANTS}.")
    refused = refused_variants(model)  # e.g. int8 of a likelihood whose mean divides by ~0
    variants = [variant for variant in variants if variant not in refused]
    os.makedirs(out_dir, exist_ok=True)
    calibration = family.calibration_inputs(model, calibration_images, seed=seed) if "int8" in variants else None
    metadata = {
        "kind": model_kind_name(model),
        "inputs": [
            {"name": spec.name, "dtype": "float32", "shape": [None, int(spec.shape[-1])]}
            for spec in family.decoder_input_specs(model)
        ],
        "output": {"name": model.likelihood.mean_name, "dtype": "float32", "shape": [None, *map(int, model.data_shape)]},
        "latent_dim": int(model.latent_dim),
        "data_shape": [int(d) for d in model.data_shape],
        "likelihood": type(model.likelihood).__name__,
        "prior": family.prior_description(model),
        "variants": {},
        "refused_variants": refused,
    }
    metadata["input"] = metadata["inputs"][0]  # "z", as before conditional models
    spec = model.condition_spec
    if spec is not None:
        metadata["condition"] = (
            {"num_classes": spec.num_classes, "encoding": "one-hot float32 label"}
            if spec.num_classes is not None
            else {"condition_dim": spec.dim, "encoding": "float32 vector"}
        )
    paths = {}
    scratch = tempfile.mkdtemp(prefix=".decoder-sm-", dir=out_dir)
    try:
        saved_model_dir = write_decoder_saved_model(model, os.path.join(scratch, "decode"))
        for variant in variants:
            path = os.path.join(out_dir, f"decoder_{variant}.tflite")
            paths[variant] = convert_decoder(saved_model_dir, variant, path, calibration)
            metadata["variants"][variant] = {"file": os.path.basename(path), "bytes": os.path.getsize(path), "ops": op_names(path)}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if model.can(CLASSIFY):
        # A model with a classifier (m2) also ships q(y|x): images in, class probabilities out.
        # Named in the metadata, not in `paths`, whose entries are the decoder's variants.
        export_tflite_classifier(model, os.path.join(out_dir, CLASSIFIER_FILE))
        metadata["classifier"] = {
            "file": CLASSIFIER_FILE,
            "input": {"name": "images", "dtype": "float32", "shape": [None, *map(int, model.data_shape)]},
            "output": {"name": "probabilities", "dtype": "float32", "shape": [None, int(model.num_classes)]},
        }
    metadata_path = os.path.join(out_dir, METADATA_FILE)
    with open(metadata_path, "w", encoding="utf-8") as f:
        json.dump(metadata, f, indent=2)
        f.write("\n")
    paths["metadata"] = metadata_path
    return paths
