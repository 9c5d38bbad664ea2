"""Checks an export against the Keras model and writes `export_report.json`.

Per TFLite variant: file size, max and mean absolute pixel difference from the Keras
decoder over latent draws (seeded; `keras_vae.export.family.latent_draws`: the model's
own prior for a VAE, with conditions cycling through the classes for a ConditionalVAE,
Gaussian draws at the codes' scale for an autoencoder), and single-image latency in the
LiteRT interpreter. For the SavedModel: the largest absolute difference per signature
from the Keras model, with the SavedModel re-run in a separate Python process that
imports only TensorFlow (as TF Serving would run it: no keras_vae, no
tensorflow-probability). The fields are the same for every model kind; "kind" and
"signatures" say which model and which signatures (an autoencoder has no sample/elbo).
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
from keras_vae.models.signatures import stateless_elbo_terms
from keras_vae.models.builder import model_kind_name
from keras_vae.likelihoods import Bernoulli

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
    >>> outputs, info = run_in_subprocess(path, [("a", "sample", {"seed": 1, "count": 2})])  # doctest: +SKIP
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
    """Returns `(calls, expected)`: one call per signature and the Keras model's outputs for it.

    A ConditionalVAE's calls also pass the condition (labels cycling through the classes);
    an autoencoder's have no `sample` or `elbo` (`family.SIGNATURES`).

    Args:
        model: built VAE, ConditionalVAE, Autoencoder or DenoisingAutoencoder.
        images: float32 array (n, *data_shape).
        z: float32 array (m, latent_dim).
        seed: int, default 0. Seed of `sample` and `elbo`.
        count: int, default 8. Images drawn by `sample`.
    """
    kind = model_kind_name(model)
    images = np.asarray(images, dtype="float32")
    z = np.asarray(z, dtype="float32")
    conditional = kind == "cvae"
    # The signatures' condition inputs, and the float vectors the decoder sees for them.
    images_condition = family.signature_condition(model, len(images)) if conditional else {}
    z_condition = family.signature_condition(model, len(z)) if conditional else {}
    image_vectors = family.condition_vectors(model, images_condition) if conditional else None
    z_vectors = family.condition_vectors(model, z_condition) if conditional else None
    parameters = np.asarray(family.decoder_parameters(model, tf.constant(z), z_vectors))
    decoded = np.asarray(model.likelihood.mean(parameters))
    decode = {"probabilities": decoded, "logits": parameters} if isinstance(model.likelihood, Bernoulli) else {"mean": decoded}
    if conditional:
        reconstruction = np.asarray(model.reconstruct(images, image_vectors))
        z_mean, z_log_var = (np.asarray(t) for t in model.encode(images, image_vectors))
    else:
        reconstruction = np.asarray(model.reconstruct(images))
    calls = [
        ("serving_default", "serving_default", {"images": images, **images_condition}),
        ("encode", "encode", {"images": images, **images_condition}),
        ("decode", "decode", {"z": z, **z_condition}),
        ("reconstruct", "reconstruct", {"images": images, **images_condition}),
    ]
    expected = {
        "serving_default": {"reconstruction": reconstruction},
        "decode": decode,
        "reconstruct": {"reconstruction": reconstruction},
    }
    if not family.has_prior(model):
        expected["encode"] = {"z": np.asarray(model.encode(images))}
        return calls, expected
    if not conditional:
        z_mean, z_log_var = (np.asarray(t) for t in model.encode(images))
    expected["encode"] = {"z_mean": z_mean, "z_log_var": z_log_var}
    seed_in = np.int32(seed)
    if conditional:
        sample_condition = family.signature_condition(model, count)
        calls.append(("sample", "sample", {"seed": seed_in, **sample_condition}))
        samples = model.sample(count, seed=seed, condition=family.condition_vectors(model, sample_condition))
    else:
        calls.append(("sample", "sample", {"seed": seed_in, "count": np.int32(count)}))
        samples = model.sample(count, seed=seed)
    calls.append(("elbo", "elbo", {"images": images, "seed": seed_in, **images_condition}))
    elbo, rec, kl = (np.asarray(t) for t in stateless_elbo_terms(model, images, seed, image_vectors))
    expected["sample"] = {"images": np.asarray(samples)}
    expected["elbo"] = {"elbo": elbo, "reconstruction": rec, "kl": kl}
    return calls, expected


def saved_model_report(model, saved_model_dir, images=None, num_latents=64, seed=0):
    """Returns `{signature: max abs difference}` between the SavedModel (separate process) and Keras.

    `elbo` differences are in nats (sums over all pixels), the rest in output units.

    Args:
        model: built model of any kind (`family.KINDS`).
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
    return {"max_abs_difference": differences, "subprocess": info}


def tflite_variant_report(model, path, num_draws=1000, seed=0, latency_runs=200):
    """Returns size, error vs the Keras decoder over `num_draws` latent draws, and batch-1 latency.

    Args:
        model: built model of any kind.
        path: str, a .tflite decoder.
        num_draws: int, default 1000. Latent draws (`family.latent_draws`: a VAE's prior, seeded).
        seed: int, default 0.
        latency_runs: int, default 200. Timed single-image invocations (median reported).
    """
    from keras_vae.export.tflite import feed_decoder, load_interpreter, run_decoder

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


def draws_description(model):
    """Returns what the TFLite error figures were measured on, in words."""
    kind = model_kind_name(model)
    if kind == "vae":
        return f"z ~ p(z), the model's {type(model.prior).__name__} prior"
    if kind == "cvae":
        cycle = f"labels cycling 0..{model.num_classes - 1}" if model.num_classes else "standard normal condition vectors"
        return f"z ~ p(z), the model's {type(model.prior).__name__} prior, with {cycle}"
    return "Gaussian draws at the empirical mean and scale of the codes of decoded N(0, I) draws (no prior)"


def build_report(model, saved_model_dir=None, tflite_paths=None, num_draws=1000, seed=0):
    """Returns the export report dict for a SavedModel and/or TFLite decoders of any model kind.

    Args:
        model: built VAE, ConditionalVAE, Autoencoder or DenoisingAutoencoder.
        saved_model_dir: str or None. A `<base>/<name>/<version>` directory to re-run.
        tflite_paths: dict {variant: path} or None (`export_tflite_decoders`' result).
        num_draws: int, default 1000. Latent draws for the TFLite error figures.
        seed: int, default 0.

    Example:
    >>> report = build_report(model, "out/saved_model/vae/1", {"float32": "out/tflite/decoder_float32.tflite"})  # doctest: +SKIP
    """
    report = {
        "kind": model_kind_name(model),
        "signatures": ["serving_default"] + [endpoint.name for endpoint in model.export_endpoints()],
        "latent_draws": draws_description(model),
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
