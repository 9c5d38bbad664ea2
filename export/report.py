"""Checks an export against the Keras model and writes `export_report.json`.

Per TFLite variant: file size, max and mean absolute pixel difference from the Keras
decoder over latent draws (seeded; `keras_vae.export.family.latent_draws`: the model's
own prior when it has one, Gaussian draws at the codes' scale otherwise, with conditions
cycling through the classes for a conditional model), and single-image latency in the
LiteRT interpreter. For the SavedModel: the largest absolute difference per signature
from the Keras model, with the SavedModel re-run in a separate Python process that
imports only TensorFlow (as TF Serving would run it: no keras_vae, no
tensorflow-probability). The fields are the same for every model kind; "kind" and
"signatures" say which model and which signatures (`model.export_endpoints()`: a model
without a prior has no sample, one without a bound no elbo).
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

from keras_vae.export import family
from keras_vae.export.tflite import feed_decoder, load_interpreter, run_decoder
from keras_vae.models.builder import model_kind_name
from keras_vae.models.signatures import stateless_elbo_terms

REPORT_FILE = "export_report.json"

# Runs in a fresh interpreter: loads the SavedModel with TensorFlow only and runs every
# requested call. Argv: saved_model_dir inputs.npz outputs.npz calls.json
SUBPROCESS_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
path, inputs_file, outputs_file, calls_file = sys.argv[1:5]
loaded = tf.saved_model.load(path)
inputs = np.load(inputs_file)
calls = json.load(open(calls_file))
results = {}
for call_id, signature, names in calls:
    fn = loaded.signatures[signature]
    out = fn(**{n: tf.constant(inputs[call_id + "/" + n]) for n in names})
    for key, value in out.items():
        results[call_id + "/" + key] = value.numpy()
np.savez(outputs_file, **results)
print(json.dumps({"signatures": sorted(loaded.signatures),
                  "modules": sorted(m for m in ("keras_vae", "tensorflow_probability", "keras")
                                    if m in sys.modules)}))
"""


def run_in_subprocess(saved_model_dir, calls, timeout=300):
    """Runs signature calls on a SavedModel in a separate process that imports only TensorFlow.

    Args:
        saved_model_dir: str, a `<base>/<name>/<version>` directory.
        calls: list of `(call_id, signature_name, {input_name: array})`.
        timeout: float, default 300 seconds.

    Returns:
        `(outputs, info)`: outputs is `{call_id: {output_name: np.ndarray}}`; info holds the
        process's signature names and which of keras_vae/tensorflow_probability/keras it loaded.

    Example:
    >>> import tempfile
    >>> from keras_vae.export.saved_model import export_saved_model
    >>> from keras_vae.models.builder import build_model
    >>> path = export_saved_model(build_model("vae", (4,), latent_dim=2), tempfile.mkdtemp())
    >>> outputs, info = run_in_subprocess(path, [("a", "sample", {"seed": np.int32(1), "count": np.int32(3)})])
    >>> outputs["a"]["images"].shape, "keras_vae" in info["modules"]
    ((3, 4), False)
    """
    with tempfile.TemporaryDirectory() as tmp:
        arrays, plan = {}, []
        for call_id, signature, inputs in calls:
            plan.append([call_id, signature, sorted(inputs)])
            for name, value in inputs.items():
                arrays[f"{call_id}/{name}"] = np.asarray(value)
        np.savez(os.path.join(tmp, "inputs.npz"), **arrays)
        with open(os.path.join(tmp, "calls.json"), "w") as f:
            json.dump(plan, f)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        completed = subprocess.run(
            [sys.executable, "-c", SUBPROCESS_SCRIPT, saved_model_dir, os.path.join(tmp, "inputs.npz"),
             os.path.join(tmp, "outputs.npz"), os.path.join(tmp, "calls.json")],
            capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"The SavedModel failed in a TensorFlow-only process:\n{completed.stderr[-3000:]}")
        info = json.loads(completed.stdout.strip().splitlines()[-1])
        outputs = {}
        with np.load(os.path.join(tmp, "outputs.npz")) as data:
            for key in data.files:
                call_id, name = key.split("/", 1)
                outputs.setdefault(call_id, {})[name] = data[key]
    return outputs, info


def keras_reference_calls(model, images, z, seed=0, count=8):
    """Returns `(calls, expected)`: one call per signature the model serves and the Keras model's outputs for it.

    The calls follow `model.export_endpoints()`, whose first signature is called as
    `serving_default` too. Each signature's inputs are filled by name: "images", "z",
    "seed", "count", and the condition of a conditional model (`family.signature_condition`:
    labels cycling through the classes), one per example of the batch it goes with
    (`count` of them for `sample`). A signature the Keras model has no reference
    computation for here is left out (`saved_model_report` lists it as unchecked).

    Args:
        model: built keras_vae model of any kind.
        images: float32 array (n, *data_shape).
        z: float32 array (m, latent_dim).
        seed: int, default 0. Seed of `sample` and `elbo`.
        count: int, default 8. Images drawn by `sample`.

    Example:
    >>> from keras_vae.models.builder import build_model
    >>> model = build_model("cvae", (4,), latent_dim=2, num_classes=3)
    >>> calls, expected = keras_reference_calls(model, np.zeros((2, 4)), np.zeros((5, 2)), count=3)
    >>> [(call_id, sorted(inputs)) for call_id, _, inputs in calls][-2:]
    [('sample', ['labels', 'seed']), ('elbo', ['images', 'labels', 'seed'])]
    >>> expected["sample"]["images"].shape
    (3, 4)
    """
    images = np.asarray(images, dtype="float32")
    z = np.asarray(z, dtype="float32")
    # The condition of each batch ({} without one): the images', the latents' and the samples'.
    conditions = {
        "images": family.signature_condition(model, len(images)),
        "z": family.signature_condition(model, len(z)),
        "count": family.signature_condition(model, count),
    }
    image_vectors = family.condition_vectors(model, conditions["images"])
    references = {
        "reconstruct": lambda: {"reconstruction": model.reconstruct(images, image_vectors)},
        "encode": lambda: model.named_encoding(tf.constant(images), image_vectors),
        "decode": lambda: model.likelihood.named_outputs(
            family.decoder_parameters(model, tf.constant(z), family.condition_vectors(model, conditions["z"]))
        ),
        "sample": lambda: {
            "images": model.sample(count, seed=seed, condition=family.condition_vectors(model, conditions["count"]))
        },
        "elbo": lambda: dict(zip(("elbo", "reconstruction", "kl"), stateless_elbo_terms(model, images, seed, image_vectors))),
        "classify": lambda: {"probabilities": model.classify(images)},
        # Kinds with an exact likelihood (EXACT: flows) serve it as `log_prob`.
        "log_prob": lambda: {"log_prob": model.exact_log_likelihood(images, seed=seed)},
    }
    values = {"images": images, "z": z, "seed": np.int32(seed), "count": np.int32(count)}
    calls, expected = [], {}
    for index, endpoint in enumerate(model.export_endpoints(checks=False)):
        if endpoint.name not in references:
            continue
        names = [spec.name for spec in endpoint.input_signature]
        batch = next((name for name in ("images", "z") if name in names), "count")
        available = {**values, **conditions[batch]}
        inputs = {name: available[name] for name in names}
        outputs = {key: np.asarray(value) for key, value in references[endpoint.name]().items()}
        call_ids = ["serving_default", endpoint.name] if index == 0 else [endpoint.name]
        for call_id in call_ids:
            calls.append((call_id, call_id, inputs))
            expected[call_id] = outputs
    return calls, expected


def saved_model_report(model, saved_model_dir, images=None, num_latents=64, seed=0):
    """Returns `{signature: max abs difference}` between the SavedModel (separate process) and Keras.

    `elbo` differences are in nats (sums over all pixels), the rest in output units. Signatures
    without a Keras reference (`keras_reference_calls`) are listed under "unchecked".

    Args:
        model: built keras_vae model of any kind.
        saved_model_dir: str.
        images: float32 array or None (uniform noise in [0, 1], seeded).
        num_latents: int, default 64. Latent draws fed to `decode` (`family.latent_draws`).
        seed: int, default 0.
    """
    rng = np.random.default_rng(seed)
    if images is None:
        images = rng.uniform(size=(16, *model.data_shape)).astype("float32")
    z = family.latent_draws(model, num_latents, seed=seed)["z"]
    calls, expected = keras_reference_calls(model, images, z, seed=seed)
    outputs, info = run_in_subprocess(saved_model_dir, calls)
    differences = {}
    for call_id, wanted in expected.items():
        got = outputs[call_id]
        if sorted(got) != sorted(wanted):
            raise AssertionError(f"Signature {call_id} returned {sorted(got)}, expected {sorted(wanted)}.")
        differences[call_id] = max(float(np.max(np.abs(got[k] - wanted[k]))) for k in wanted)
    result = {"max_abs_difference": differences, "subprocess": info}
    unchecked = sorted(set(info["signatures"]) - set(differences))
    if unchecked:
        result["unchecked"] = unchecked
    return result


def tflite_variant_report(model, path, num_draws=1000, seed=0, latency_runs=200):
    """Returns size, error vs the Keras decoder over `num_draws` latent draws, and batch-1 latency.

    Args:
        model: built model of any kind.
        path: str, a .tflite decoder.
        num_draws: int, default 1000. Latent draws (`family.latent_draws`: the prior's when there is one, seeded).
        seed: int, default 0.
        latency_runs: int, default 200. Timed single-image invocations (median reported).
    """
    inputs = family.latent_draws(model, num_draws, seed=seed)
    expected = family.decoded_mean(model, inputs)
    interpreter = load_interpreter(path)
    got = run_decoder(interpreter, inputs["z"], inputs.get("condition"))
    error = np.abs(got - expected)
    run_decoder(interpreter, inputs["z"][:1], None if "condition" not in inputs else inputs["condition"][:1])  # batch 1, warm up
    times = []
    for i in range(latency_runs):
        one = {key: value[i % num_draws][None] for key, value in inputs.items()}
        start = time.perf_counter()
        interpreter.get_tensor(feed_decoder(interpreter, one))
        times.append(time.perf_counter() - start)
    return {
        "file": os.path.basename(path),
        "bytes": os.path.getsize(path),
        "max_abs_pixel_difference": float(error.max()),
        "mean_abs_pixel_difference": float(error.mean()),
        "num_draws": int(num_draws),
        "latency_ms_batch1_median": 1000 * float(np.median(times)),
    }


def build_report(model, saved_model_dir=None, tflite_paths=None, num_draws=1000, seed=0):
    """Returns the export report dict for a SavedModel and/or TFLite decoders of any model kind.

    Args:
        model: built keras_vae model of any kind.
        saved_model_dir: str or None. A `<base>/<name>/<version>` directory to re-run.
        tflite_paths: dict {variant: path} or None (`export_tflite_decoders`' result).
        num_draws: int, default 1000. Latent draws for the TFLite error figures.
        seed: int, default 0.

    Example:
    >>> import tempfile
    >>> from keras_vae.export.tflite import export_tflite_decoders
    >>> from keras_vae.models.builder import build_model
    >>> model = build_model("ae", (4,), latent_dim=2)
    >>> report = build_report(model, tflite_paths=export_tflite_decoders(model, tempfile.mkdtemp(), variants=["float32"]))
    >>> report["kind"], report["signatures"]
    ('ae', ['serving_default', 'reconstruct', 'encode', 'decode'])
    >>> report["tflite"]["float32"]["max_abs_pixel_difference"] < 1e-5
    True
    """
    report = {
        "kind": model_kind_name(model),
        "signatures": ["serving_default"] + [endpoint.name for endpoint in model.export_endpoints()],
        "latent_draws": family.draws_description(model),
        "latent_dim": int(model.latent_dim),
        "data_shape": [int(d) for d in model.data_shape],
        "likelihood": type(model.likelihood).__name__,
        "seed": int(seed),
    }
    if saved_model_dir is not None:
        report["saved_model"] = {"path": os.path.abspath(saved_model_dir), **saved_model_report(model, saved_model_dir, seed=seed)}
    if tflite_paths:
        report["tflite"] = {
            variant: tflite_variant_report(model, path, num_draws=num_draws, seed=seed)
            for variant, path in tflite_paths.items()
            if variant != "metadata"
        }
        if "float32" in report["tflite"]:
            base = report["tflite"]["float32"]["bytes"]
            for entry in report["tflite"].values():
                entry["size_vs_float32"] = entry["bytes"] / base
    return report


def format_table(report):
    """Returns the report as a printable text table."""
    lines = []
    if "kind" in report:
        lines.append(f"{report['kind']} ({report['likelihood']}), latent_dim {report['latent_dim']}; "
                     f"TFLite errors over {report.get('latent_draws', 'latent draws')}")
    if "saved_model" in report:
        lines.append("SavedModel (TensorFlow-only process vs Keras)  max |diff|")
        for name, value in report["saved_model"]["max_abs_difference"].items():
            lines.append(f"  {name:<16} {value:.3g}")
    if "tflite" in report:
        lines.append(f"{'TFLite decoder':<14} {'bytes':>10} {'vs f32':>7} {'max |diff|':>11} {'mean |diff|':>12} {'ms/img':>8}")
        for name, entry in report["tflite"].items():
            lines.append(
                f"{name:<14} {entry['bytes']:>10d} {entry.get('size_vs_float32', float('nan')):>7.2f} "
                f"{entry['max_abs_pixel_difference']:>11.2e} {entry['mean_abs_pixel_difference']:>12.2e} "
                f"{entry['latency_ms_batch1_median']:>8.3f}"
            )
    return "\n".join(lines)


def write_report(report, path):
    """Writes the report as indented JSON; returns `path`."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, sort_keys=True)
        f.write("\n")
    return path
