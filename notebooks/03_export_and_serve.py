# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Export a VAE and serve it
#
# A trained VAE leaves Python in two forms: a **SavedModel** for TF Serving (signatures `encode`,
# `decode`, `reconstruct`, `sample`, `elbo`) and **TFLite decoders** for phones (z in, pixels out,
# builtin ops only, in four precisions). This notebook exports a small model, lists the signatures
# as `saved_model_cli show` does, sends them the requests TF Serving would receive (the REST JSON
# body and a gRPC `PredictRequest`), runs the TFLite decoders in the LiteRT interpreter and compares
# everything with the Keras model. `tensorflow_model_server` itself is not installable here; the
# requests go through the same serialisation and signatures it would use. `KERAS_VAE_FAST=1` runs it
# in well under a minute; the full run (10 epochs) takes about two minutes on two CPU cores.

# %%
# %matplotlib inline
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from keras_vae import plotting
from keras_vae.data import binarize_static, load_tfds_images, make_dataset
from keras_vae.export import exporter, serving, tflite
from keras_vae.export import report as export_report
from keras_vae.models import build_vae

FAST = os.environ.get("KERAS_VAE_FAST") == "1"
DATA_DIR = os.environ.get("KERAS_VAE_DATA_DIR")
EPOCHS = 1 if FAST else 10
JIT = not FAST  # XLA compiles for seconds, which only pays off over many steps
keras.utils.set_random_seed(0)
tf.get_logger().setLevel("ERROR")  # the SavedModel writer's and converter's INFO lines would bury the outputs


def compare(rows, names, title):
    """Returns a figure of image batches of equal length as labelled rows, one row per name."""
    rows = [np.asarray(r, dtype="float32") for r in rows]
    return plotting.image_grid(np.concatenate(rows), rows=len(rows), cols=len(rows[0]), title=title, row_labels=names)


# %% [markdown]
# ## A model to export
# A 16-dimensional MLP VAE with a Bernoulli decoder on dynamically binarized Fashion-MNIST.

# %%
# Fast mode reads only the first images of each split (TFDS split slicing).
train_split, test_split = ("train[:5000]", "test[:1000]") if FAST else ("train", "test")
train_images, _ = load_tfds_images("fashion_mnist", train_split, data_dir=DATA_DIR)
test_images, _ = load_tfds_images("fashion_mnist", test_split, data_dir=DATA_DIR)
test_binary = binarize_static(test_images, seed=1)

model = build_vae((28, 28, 1), architecture="mlp", latent_dim=16, seed=0)
model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=JIT)
start = time.perf_counter()
model.fit(make_dataset(train_images, batch_size=128, binarize="dynamic", seed=0), epochs=EPOCHS, verbose=0)
test = model.evaluate(make_dataset(test_binary, batch_size=500, shuffle=False), return_dict=True, verbose=0)
print(f"{EPOCHS} epochs in {time.perf_counter() - start:.0f} s; test ELBO {test['elbo']:.1f} nats")

# %% [markdown]
# ## Export
# `export_model` writes the SavedModel in TF Serving's versioned layout (`saved_model/<name>/<version>/`)
# with a `models.config` for `--model_config_file`, converts the decoder to TFLite, checks every
# output against the Keras model and writes `export_report.json`. `keras-vae export RUN_DIR --out DIR`
# does the same for a run directory. Everything is written beside the target and renamed into
# place, so a failed export leaves nothing half-written.

# %%
out_dir = os.path.join(tempfile.mkdtemp(), "export")
start = time.perf_counter()
report = exporter.export_model(model, out_dir, name="vae", num_draws=200 if FAST else 1000, seed=0)
print(f"exported in {time.perf_counter() - start:.0f} s")
for root, _, files in sorted(os.walk(out_dir)):
    for name in sorted(files):
        path = os.path.join(root, name)
        print(f"{os.path.getsize(path):>10,d}  {os.path.relpath(path, out_dir)}")

# %% [markdown]
# ## The signatures, as the server sees them
# `saved_model_cli show --dir DIR --all` lists each signature's named inputs and outputs with dtype
# and shape (-1: any size). The same information from Python: `tf.saved_model.load` and each
# signature's `structured_input_signature` and `structured_outputs`.

# %%
version_dir = report["saved_model"]["path"]
loaded = tf.saved_model.load(version_dir)


def describe(spec):
    """Returns a TensorSpec's dtype and shape as `saved_model_cli` prints them."""
    if spec.shape.rank == 0:
        return f"{spec.dtype.name} scalar"
    shape = ", ".join("-1" if d is None else str(d) for d in spec.shape)  # -1: any size
    return f"{spec.dtype.name} ({shape})"


for name in sorted(loaded.signatures):
    function = loaded.signatures[name]
    inputs = function.structured_input_signature[1]
    outputs = function.structured_outputs
    print(f"signature {name!r}")
    print("  inputs:  " + ", ".join(f"{k}: {describe(v)}" for k, v in sorted(inputs.items())))
    print("  outputs: " + ", ".join(f"{k}: {describe(v)}" for k, v in sorted(outputs.items())))

# %% [markdown]
# The tool itself (it ships with TensorFlow), for one signature:

# %%
cli = shutil.which("saved_model_cli")
command = [cli] if cli else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
shown = subprocess.run(
    command + ["show", "--dir", version_dir, "--tag_set", "serve", "--signature_def", "sample"],
    capture_output=True, text=True, check=True,
)
print(shown.stdout)

# %% [markdown]
# ## REST: the JSON body
# A client POSTs `{"signature_name": ..., "inputs": {...}}` to
# `http://HOST:8501/v1/models/vae:predict`. `serving.rest_body` builds it; `serving.run_rest` sends
# it through JSON and converts each input to the signature's dtype, as the server does. The
# `sample` signature draws z with a stateless seed exactly as `model.sample` does, so the served
# images equal the Keras model's for the same seed.

# %%
body = serving.rest_body("sample", {"seed": 7, "count": 8})
print("POST /v1/models/vae:predict", json.dumps(body))
response = serving.run_rest(loaded, body)
served = np.asarray(response["outputs"]["images"], dtype="float32")
keras_samples = np.asarray(model.sample(8, seed=7))
print(f"response: outputs {sorted(response['outputs'])}, images {served.shape}; "
      f"max |served - Keras| = {np.abs(served - keras_samples).max():.2e}")
compare([keras_samples, served], ["Keras", "REST"], "sample(seed=7): Keras model and REST response")

# %% [markdown]
# A batch of images goes into the body as nested lists (`"inputs": {"images": [[[[0.0], ...]]]}`):
# 784 numbers per image, so about 5 kB of JSON per Fashion-MNIST image.

# %%
body = serving.rest_body("encode", {"images": test_binary[:4]})
text = json.dumps(body)
print(f"encode body for 4 images: {len(text):,} characters; starts {text[:90]}...")
z_served = np.asarray(serving.run_rest(loaded, body)["outputs"]["z_mean"])
z_keras = np.asarray(model.encode(test_binary[:4])[0])
print(f"z_mean {z_served.shape}, max |served - Keras| = {np.abs(z_served - z_keras).max():.2e}")

# %% [markdown]
# ## gRPC: a PredictRequest
# `serving.predict_request` builds the `tensorflow_serving.apis.predict_pb2.PredictRequest` a gRPC
# client sends to port 8500 (`PredictionServiceStub(channel).Predict(request)`), with the inputs as
# `TensorProto`s. `serving.run_predict_request` serialises it to the wire format, parses it again
# and runs the named signature, returning a `PredictResponse`.

# %%
request = serving.predict_request("vae", "reconstruct", {"images": test_binary[:8]}, version=1)
print(request.model_spec)
print(f"input 'images': dtype {tf.dtypes.as_dtype(request.inputs['images'].dtype).name}, "
      f"shape {[d.size for d in request.inputs['images'].tensor_shape.dim]}; "
      f"{len(request.SerializeToString()):,} bytes on the wire")
response = serving.run_predict_request(loaded, request)
reconstruction = serving.response_arrays(response)["reconstruction"]
keras_reconstruction = np.asarray(model.reconstruct(test_binary[:8]))
print(f"max |served - Keras| = {np.abs(reconstruction - keras_reconstruction).max():.2e}")
compare(
    [test_images[:8], test_binary[:8], keras_reconstruction, reconstruction],
    ["original", "input", "Keras", "gRPC"],
    "reconstruct: Keras model and PredictResponse",
)

# %% [markdown]
# ## TFLite decoders in the LiteRT interpreter
# Each `.tflite` file maps z (float32, batch x 16) to pixel probabilities with builtin ops only, so
# the stock LiteRT runtime on a phone runs it; sampling is drawing z ~ N(0, I) on the device and
# decoding. Below, the same 8 prior draws through the Keras decoder and through each variant in
# `ai_edge_litert`'s interpreter.

# %%
z = np.random.default_rng(3).standard_normal((8, model.latent_dim)).astype("float32")
decoded = {"Keras": np.asarray(model.decode(z))}
for variant, entry in report["tflite"].items():
    interpreter = tflite.load_interpreter(entry["path"])
    decoded[variant] = tflite.run_decoder(interpreter, z)
    detail = interpreter.get_input_details()[0]
    print(f"{variant:<13} {entry['bytes']:>9,d} bytes  input {detail['name']!r} {detail['dtype'].__name__}  "
          f"max |TFLite - Keras| = {np.abs(decoded[variant] - decoded['Keras']).max():.2e}")
compare(list(decoded.values()), list(decoded), "The same z through the Keras and the TFLite decoders")

# %% [markdown]
# The differences are invisible for float32 and float16. The int8 variants, a quarter of the size,
# differ by a grey level or two on average and by up to about a tenth of the pixel range at a few
# pixels (the report below measures it over many draws).
#
# ## The export report
# `export_report.json` (printed with `report.format_table`) holds the same checks over many prior
# draws: for the SavedModel, each signature re-run in a separate process that imports only
# TensorFlow (as the server would: no keras_vae, no tensorflow-probability) against the Keras model;
# for each TFLite variant, its size, its error over the draws and its single-image latency.

# %%
print(export_report.format_table(report))
loaded_modules = report["saved_model"]["subprocess"]["modules"]  # keras comes with TensorFlow's own import
print("serving process imported keras_vae:", "keras_vae" in loaded_modules,
      "| tensorflow_probability:", "tensorflow_probability" in loaded_modules)
