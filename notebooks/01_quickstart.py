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
# # Quickstart: a variational autoencoder on Fashion-MNIST
#
# This notebook trains the model of Kingma and Welling (2013) with `keras_vae`: an MLP encoder
# gives q(z|x) = N(mu(x), diag(sigma^2(x))), a decoder gives Bernoulli probabilities p(x|z), and
# `model.fit` maximises the evidence lower bound
#
#     ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x).
#
# All numbers are in nats per image. Set `KERAS_VAE_FAST=1` to run it in well under a minute
# (fewer images and epochs); `KERAS_VAE_DATA_DIR` chooses the TFDS data directory.

# %%
# %matplotlib inline
import os
import tempfile
import time

import keras
import numpy as np

from keras_vae import plotting
from keras_vae.data import binarize_static, load_tfds_images, make_dataset
from keras_vae.image_logging import ImageLogger
from keras_vae.models import build_vae

FAST = os.environ.get("KERAS_VAE_FAST") == "1"
DATA_DIR = os.environ.get("KERAS_VAE_DATA_DIR")  # None: TFDS' default (~/tensorflow_datasets)
EPOCHS = 2 if FAST else 25
keras.utils.set_random_seed(0)


# %% [markdown]
# ## Data
# `load_tfds_images` returns float32 images in [0, 1] (N, 28, 28, 1) and integer labels; Fashion-MNIST
# is prepared offline from Debian's `dataset-fashion-mnist` files. The Bernoulli decoder models binary
# pixels, so training images are binarized afresh each epoch ("dynamic") and the test images once,
# with a fixed seed ("static"), which makes the test ELBO one well-defined number.

# %%
# Fast mode reads only the first images of each split (TFDS split slicing).
train_split, test_split = ("train[:5000]", "test[:1000]") if FAST else ("train", "test")
train_images, train_labels = load_tfds_images("fashion_mnist", train_split, data_dir=DATA_DIR)
test_images, test_labels = load_tfds_images("fashion_mnist", test_split, data_dir=DATA_DIR)
test_binary = binarize_static(test_images, seed=1)
print(f"train {train_images.shape}, test {test_images.shape}, pixel range [{train_images.min()}, {train_images.max()}]")
plotting.image_grid(test_images[:32], rows=4, cols=8, title="Test images")

# %% [markdown]
# ## Model
# `build_vae` puts an encoder and a decoder together; here a 32-dimensional latent space.

# %%
model = build_vae((28, 28, 1), architecture="mlp", latent_dim=32, likelihood="bernoulli", seed=0)
model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
print(f"{model.count_params():,} parameters; latent_dim = {model.latent_dim}")

# %% [markdown]
# ## Training
# Plain `model.fit`. The `ImageLogger` callback also writes a grid of samples and of reconstructions
# to TensorBoard every 5 epochs (`tensorboard --logdir` the printed directory).

# %%
train_data = make_dataset(train_images, batch_size=128, binarize="dynamic", seed=0)
test_data = make_dataset(test_binary, batch_size=500, shuffle=False)
log_dir = os.path.join(tempfile.mkdtemp(), "images")
start = time.perf_counter()
history = model.fit(
    train_data,
    epochs=EPOCHS,
    validation_data=test_data,
    callbacks=[
        keras.callbacks.TerminateOnNaN(),
        ImageLogger(test_binary[:32], every_n_epochs=5, log_dir=log_dir),
    ],
    verbose=0,
)
print(f"{EPOCHS} epochs in {time.perf_counter() - start:.0f} s; image summaries in {log_dir}")

# %% [markdown]
# Training curves: the ELBO rises as the reconstruction term improves, while the KL term, the
# information the code keeps about each image, settles at a few tens of nats.

# %%
plotting.plot_training_curves(history.history)

# %% [markdown]
# ## Samples and reconstructions
# Samples decode z ~ N(0, I) to the Bernoulli means E[x|z]; the same seed gives the same images.
# Reconstructions go through the posterior mean: originals, the binarized inputs the model sees, and
# its reconstructions, row by row.

# %%
plotting.plot_samples(model, n=64, seed=0)

# %%
plotting.plot_reconstructions(model, test_binary[:16], originals=test_images[:16])

# %% [markdown]
# ## Test ELBO and importance-sampled log-likelihood
# `model.evaluate` reports the test ELBO. A tighter estimate of log p(x) averages K importance
# weights p(x, z_k) / q(z_k|x) (Burda et al. 2016); -log p(x) is the negative log-likelihood (NLL),
# and the gap NLL - (-ELBO) is the KL divergence from q(z|x) to the true posterior.

# %%
test = model.evaluate(test_data, return_dict=True, verbose=0)
print(f"test ELBO {test['elbo']:.2f} nats (reconstruction {test['reconstruction']:.2f}, KL {test['kl']:.2f})")

# %%
from keras_vae.evaluation import importance_sampled_log_likelihood  # noqa: E402

n_eval, k = (200, 50) if FAST else (1000, 1000)
start = time.perf_counter()
log_px = importance_sampled_log_likelihood(model, test_binary[:n_eval], num_samples=k, seed=0)
reconstruction, kl = model.elbo_terms(test_binary[:n_eval])
elbo = float(np.mean(np.asarray(reconstruction) - np.asarray(kl)))
print(
    f"first {n_eval} test images: IS-{k} NLL {-log_px.mean():.2f} +- {log_px.std() / np.sqrt(n_eval):.2f} nats, "
    f"-ELBO {-elbo:.2f} nats ({time.perf_counter() - start:.0f} s)"
)

# %% [markdown]
# ## Saving
# The model saves to one `.keras` file that `keras.models.load_model` restores without
# `custom_objects`.

# %%
path = os.path.join(tempfile.mkdtemp(), "fashion_vae.keras")
model.save(path)
restored = keras.models.load_model(path)
np.testing.assert_allclose(np.asarray(restored.sample(4, seed=1)), np.asarray(model.sample(4, seed=1)), atol=1e-6)
print(f"saved and restored {os.path.getsize(path) / 1e6:.1f} MB: {type(restored).__name__}")
