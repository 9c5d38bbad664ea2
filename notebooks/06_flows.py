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
# # Normalizing flows: RealNVP and Glow next to a VAE
#
# A flow maps an image to a Gaussian through invertible layers, so its log-likelihood is exact
# (change of variables), encoding is exact and sampling is one pass:
#
#     log p(y) = log N(f(y - 1/2); prior) + log |det df/dy|.
#
# Both kinds here (`realnvp`, `glow`) model 8-bit images k/255 through uniform dequantisation
# y = (k + u) / 256, so their figures are nats per image of the discrete data after the correction
# -D ln 256, the units of a VAE with a discretized-logistic decoder:
#
#     log P(k) >= log p((k + u) / 256) - D ln 256,      bits/dim = NLL / (D ln 2).
#
# `KERAS_VAE_FAST=1` trains tiny models on a slice of Fashion-MNIST for a few steps (the suite runs
# it); the full run trains each model for 3 epochs.

# %%
# %matplotlib inline
import os
import time

import keras
import numpy as np

from keras_vae import plotting
from keras_vae.data import load_tfds_images, make_dataset, tfds_class_names
from keras_vae.evaluation import evaluate_exact, evaluate_split
from keras_vae.models import build_model

FAST = os.environ.get("KERAS_VAE_FAST") == "1"
DATA_DIR = os.environ.get("KERAS_VAE_DATA_DIR")
EPOCHS = 1 if FAST else 3
JIT = not FAST  # XLA compiles for seconds, which only pays off over many steps
FLOW = {"num_scales": 2, "steps_per_scale": 1 if FAST else 4, "hidden_channels": 8 if FAST else 64}
CLASS_NAMES = tfds_class_names("fashion_mnist")
keras.utils.set_random_seed(0)

# %% [markdown]
# ## Three models on the same 8-bit data
# The flows and the VAE see the grey levels k/255 as they are (no binarization). The VAE's test
# NLL is importance-sampled (IS-K); the flows' is exact at one dequantisation per image (seed 0).

# %%
# Fast mode reads only the first images of each split (TFDS split slicing).
train_split, test_split = ("train[:256]", "test[:200]") if FAST else ("train", "test")
train_images, _ = load_tfds_images("fashion_mnist", train_split, data_dir=DATA_DIR)
test_images, test_labels = load_tfds_images("fashion_mnist", test_split, data_dir=DATA_DIR)

models, rows = {}, []
for kind in ("realnvp", "glow", "vae"):
    if kind == "vae":
        model = build_model("vae", (28, 28, 1), architecture="conv", latent_dim=16, likelihood="discretized_logistic",
                            seed=0)
    else:
        model = build_model(kind, (28, 28, 1), seed=0, **FLOW)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=JIT)
    start = time.perf_counter()
    model.fit(make_dataset(train_images, batch_size=64, seed=0), epochs=EPOCHS, verbose=0)
    seconds = time.perf_counter() - start
    if kind == "vae":
        result = evaluate_split(model, test_images, num_samples=8 if FAST else 100, batch_size=100)
        estimate = f"IS-{result['num_samples']}"
    else:
        result = evaluate_exact(model, test_images, batch_size=100)
        estimate = "exact"
    rows.append((kind, estimate, result["nll"], result["bits_per_dim"], seconds))
    models[kind] = model

print(f"{'model':8} {'estimate':8} {'NLL (nats/image)':>17} {'bits/dim':>9} {'train s':>8}")
for kind, estimate, nll, bits, seconds in rows:
    print(f"{kind:8} {estimate:8} {nll:17.1f} {bits:9.3f} {seconds:8.0f}")

# %% [markdown]
# ## Samples at two temperatures
# Sampling at temperature T scales every prior's standard deviation by T (Kingma and Dhariwal
# 2018): T = 0.7 trades diversity for cleaner images.

# %%
plotting.plot_samples(models["realnvp"], n=32, seed=0, temperatures=(1.0, 0.7), title="RealNVP samples")

# %%
plotting.plot_samples(models["glow"], n=32, seed=0, temperatures=(1.0, 0.7), title="Glow samples")

# %% [markdown]
# ## Interpolation in z
# The flow's encoding is exact: decoding the straight line between two test images' z passes
# through both images exactly at its ends.

# %%
glow = models["glow"]
plotting.plot_interpolation(glow, test_images[:4], test_images[4:8], steps=8)

# %% [markdown]
# ## Attribute manipulation
# z + a (z_pos - z_neg), with the class label as the attribute: z_pos is the mean code of one class,
# z_neg the mean code of the others (the Glow paper's manipulation figure, with labels for attributes).

# %%
attribute = int(np.bincount(test_labels).argmax())
base = np.flatnonzero(test_labels != attribute)[:4]
print(f"attribute: {CLASS_NAMES[attribute]}")
plotting.plot_attribute_arithmetic(glow, test_images, test_labels, attribute, test_images[base], class_names=CLASS_NAMES)
