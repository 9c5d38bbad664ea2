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
# # The latent space of a two-dimensional VAE
#
# With a 2-D latent space the whole code can be drawn. This notebook trains a VAE with z in R^2 on
# Fashion-MNIST and looks at what it learned: the decoded manifold (Kingma and Welling 2013,
# figure 4), the test images' posterior means by class next to the codes of a plain and a denoising
# autoencoder, interpolations between images, attribute vectors, and traversals of single latent
# dimensions. `KERAS_VAE_FAST=1` runs it in well under a minute; `KERAS_VAE_DATA_DIR` chooses the
# TFDS data directory. The full run (20 epochs for the VAE, 10 for each autoencoder) takes about
# five minutes on two CPU cores.

# %%
# %matplotlib inline
import os
import time

import keras
import numpy as np

from keras_vae import plotting
from keras_vae.data import binarize_static, load_tfds_images, make_dataset, tfds_class_names
from keras_vae.models import build_model, build_vae

FAST = os.environ.get("KERAS_VAE_FAST") == "1"
DATA_DIR = os.environ.get("KERAS_VAE_DATA_DIR")
EPOCHS = 2 if FAST else 20
JIT = not FAST  # XLA compiles for seconds, which only pays off over many steps
BASELINE_EPOCHS = 1 if FAST else 10  # the autoencoders only need to be good enough to draw their codes
CLASS_NAMES = tfds_class_names("fashion_mnist")  # from the TFDS dataset's label feature
keras.utils.set_random_seed(0)


# %% [markdown]
# ## A VAE with two latent dimensions

# %%
# Fast mode reads only the first images of each split (TFDS split slicing).
train_split, test_split = ("train[:5000]", "test[:2000]") if FAST else ("train", "test")
train_images, _ = load_tfds_images("fashion_mnist", train_split, data_dir=DATA_DIR)
test_images, test_labels = load_tfds_images("fashion_mnist", test_split, data_dir=DATA_DIR)
test_binary = binarize_static(test_images, seed=1)

model = build_vae((28, 28, 1), architecture="mlp", latent_dim=2, seed=0)
model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=JIT)
start = time.perf_counter()
history = model.fit(
    make_dataset(train_images, batch_size=128, binarize="dynamic", seed=0),
    epochs=EPOCHS,
    validation_data=make_dataset(test_binary, batch_size=500, shuffle=False),
    verbose=0,
)
test = {k: v[-1] for k, v in history.history.items() if k.startswith("val_")}
print(
    f"{EPOCHS} epochs in {time.perf_counter() - start:.0f} s; test ELBO {test['val_elbo']:.1f} nats "
    f"(reconstruction {test['val_reconstruction']:.1f}, KL {test['val_kl']:.1f})"
)
plotting.plot_training_curves(history.history)

# %% [markdown]
# Two dimensions cost reconstruction quality (a 32-dimensional model reaches a higher ELBO, see
# `01_quickstart`), but every point of the latent plane can now be decoded and looked at.
#
# ## The learned manifold
# Decoding an evenly spaced grid of quantiles of N(0, 1) shows how the prior's mass is shared
# among the classes: each tile covers the same prior probability.

# %%
# 0.29 inch per tile at the inline backend's 100 dpi: one screen pixel per image pixel (28 + 1 padding).
plotting.plot_latent_manifold(model, n=15, tile_inches=0.29)

# %% [markdown]
# ## Test images in the latent plane
# The posterior means of test images, coloured by their class (which the model never saw). Next to
# it, for comparison, the first two principal components of the raw pixels: `plot_latent_scatter`
# takes models or arrays, and projects anything with more than two dimensions by PCA.

# %%
pixels = test_images.reshape(len(test_images), -1)
plotting.plot_latent_scatter(
    {"VAE posterior means": model, "PCA of the pixels": pixels},
    test_binary,
    test_labels,
    class_names=CLASS_NAMES,
    max_points=2000,
)

# %% [markdown]
# ## Compared with deterministic autoencoders
# A plain autoencoder (AE) and a denoising one (DAE, trained to undo Gaussian noise of standard
# deviation 0.2) with the same encoder and decoder and the same 2-D code, but no prior and no KL
# term.

# %%
baselines = {}
for kind in ("ae", "dae"):
    baseline = build_model(kind, (28, 28, 1), architecture="mlp", latent_dim=2, seed=0)
    # No XLA: on CPU it makes the DAE's noise ops, and so its step, about ten times slower (measured).
    baseline.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    start = time.perf_counter()
    train_data = make_dataset(train_images, batch_size=128, binarize="dynamic", seed=0)
    baseline.fit(train_data, epochs=BASELINE_EPOCHS, verbose=0)
    test_rec = baseline.evaluate(make_dataset(test_binary, batch_size=500, shuffle=False), return_dict=True, verbose=0)
    print(f"{kind.upper()}: {BASELINE_EPOCHS} epochs in {time.perf_counter() - start:.0f} s; "
          f"test log p(x|z) {test_rec['reconstruction']:.1f} nats")
    baselines[kind.upper()] = baseline

codes = {"VAE": model, **baselines}
for name, m in codes.items():
    z = plotting.latent_codes(m, test_binary)
    print(f"{name:>3} codes: mean {np.round(z.mean(axis=0), 2)}, std {np.round(z.std(axis=0), 2)}")
plotting.plot_latent_scatter(codes, test_binary, test_labels, class_names=CLASS_NAMES, max_points=2000)

# %% [markdown]
# What to look for: the KL term pulls the VAE's posterior means towards N(0, 1), so together they
# fill a round blob of unit scale with no large holes, and any z drawn from the prior decodes to
# something plausible. The autoencoders' codes have no such pressure: their scale is arbitrary
# (compare the standard deviations above), the classes lie on thin, irregular arms with empty space
# between them, and a z drawn from N(0, 1) may land in a gap the decoder never saw. The
# denoising autoencoder's codes are a little more compact than the plain one's, but no closer to a
# distribution one could sample from.
#
# ## Interpolation
# Decoding the straight line between the posterior means of two test images (first and last column).
# The model was trained on binarized images but encodes grey ones as well; the figures below feed it
# the grey originals, which are easier to recognise.

# %%
def first_of(label, skip=0):
    return np.flatnonzero(test_labels == label)[skip]


pairs = [(0, 9), (1, 3), (7, 5), (2, 8)]  # trouser -> dress, sneaker -> sandal, ...
a = np.stack([test_images[first_of(x)] for x, _ in pairs])
b = np.stack([test_images[first_of(y)] for _, y in pairs])
plotting.plot_interpolation(model, a, b, steps=10)

# %% [markdown]
# ## Attribute arithmetic
# An attribute vector is the mean posterior mean of one class minus that of all other images. Adding
# growing multiples of the "Ankle boot" vector to the codes of sneakers, sandals and a bag moves
# them towards boots.

# %%
base = test_images[[first_of(7), first_of(7, 1), first_of(5), first_of(8)]]
plotting.plot_attribute_arithmetic(model, test_binary, test_labels, 9, base, class_names=CLASS_NAMES)

# %% [markdown]
# ## Latent traversals
# Starting from the code of one image, each row sets one latent dimension to values from -3 to 3
# and keeps the other fixed (Higgins et al. 2017). In a 2-D model neither dimension is "one
# attribute": both move between classes.

# %%
plotting.plot_latent_traversals(model, test_images[first_of(0)], values=np.linspace(-3, 3, 11))
