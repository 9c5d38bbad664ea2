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
# # The tutorial's experiments, reproduced
#
# Six claims that VAE tutorials make in prose, each measured here by a function of
# `keras_vae.experiments` (one module per experiment, tested in `tests/test_experiments.py`):
#
# 1. `estimators`: estimating log p(x) by sampling the prior needs vastly more samples than
#    importance sampling from q(z|x).
# 2. `decoder_scale`: a Gaussian decoder's sigma is a regulariser (KL, error, sharpness against sigma).
# 3. `latent_size`: samples and test ELBO for latent sizes 2, 5, 10, 20, 50.
# 4. `representations`: VAE, AE and DAE codes under a k-NN and a linear probe, and how they fill N(0, I).
# 5. `elbo_gap`: log p(x) - ELBO = KL(q(z|x) || p(z|x)) per test image, for three posterior families.
# 6. `draws`: E[x|z], which "samples" usually show, against draws x ~ p(x|z).
#
# The same runs from the command line: `keras-vae experiment all --out experiments/` (JSON + PNGs).
#
# **Budgets.** The full run (this notebook's committed outputs, `keras_vae.experiments.FULL`)
# trains every model with the same MLP (784-256-128-z and back), Adam 1e-3, batch 100, for 3 epochs
# on the first 5,000 training images of Fashion-MNIST (150 steps), and evaluates on the first 1,000
# test images; the naive estimator gets 3 test images and up to K = 10^5 prior draws each, the ELBO
# gap 30 test images with IS-5000. That is 15 models in at most ~15 minutes on two CPU cores shared
# with other jobs (the last cell prints the time taken). Such short training shows the
# *directions* of the effects, not state-of-the-art numbers. `KERAS_VAE_FAST=1` runs everything
# with tiny networks on 128 images (`FAST`: a smoke test of every code path, no claims);
# `KERAS_VAE_DATA_DIR` chooses the TFDS data directory.

# %%
# %matplotlib inline
import os
import time

import keras
from IPython.display import display

from keras_vae.experiments import TrainedModels, budget_from_environment, load_fashion_mnist, run_experiment

BUDGET = budget_from_environment()  # FAST when KERAS_VAE_FAST=1, else FULL
DATA_DIR = os.environ.get("KERAS_VAE_DATA_DIR")
keras.utils.set_random_seed(0)
START = time.perf_counter()
data = load_fashion_mnist(BUDGET, DATA_DIR)
models = TrainedModels(BUDGET)  # each model recipe is trained once and shared between experiments
print(BUDGET)


def show(name):
    """Runs one experiment, shows its figures and returns its numbers."""
    results, figures, seconds = run_experiment(name, data, models)
    print(f"{name}: {seconds:.0f} s")
    for figure in figures.values():
        display(figure)
    return results


# %% [markdown]
# ## 1. Why not estimate log p(x) by sampling the prior?
#
# Both estimators average an unbiased estimate of p(x) and take its log, so both are biased low
# (Jensen) and converge as K grows. The naive one draws z from the prior: p(x|z) is negligible
# except in the small region the posterior occupies, so until K is of the order of the ratio of the
# prior's volume to the posterior's, the estimate is dominated by the best of a few bad draws.
# Left: a linear-Gaussian model (20-D x, 5-D z, exact log p(x) from scipy) with a slightly wrong,
# wider q(z|x); right: a trained Fashion-MNIST VAE, where the reference is the IS estimate with
# the largest K (the true log p(x) is unknown). Bands: +- one standard deviation over independent
# repetitions (none where the pool held one estimate).

# %%
estimators = show("estimators")
for model_name, result in estimators.items():
    naive = {row["K"]: row["bias"] for row in result["naive"]}
    importance = {row["K"]: row["bias"] for row in result["importance"]}
    print(f"{model_name}: naive bias {naive}")
    print(f"{' ' * len(model_name)}  IS bias    {importance}  (reference: {result['reference_kind']})")

# %% [markdown]
# ## 2. The decoder's sigma is a regulariser
#
# -log N(x; mu(z), sigma^2 I) = ||x - mu(z)||^2 / (2 sigma^2) + const: a fixed sigma weighs the
# reconstruction error against the KL like beta = 2 sigma^2 would. Small sigma: a large KL
# (information kept about x), small error, sharp samples that need not look like the data; large
# sigma: the KL goes to zero, reconstructions and samples become a blurred average. The learned
# global sigma and the per-pixel sigma(z) decoders are placed at the sigma they settle at (for
# sigma(z), the root-mean-square over test reconstructions). Sharpness is the mean variance of the
# images' discrete Laplacian (dashed: the test images').

# %%
decoder_scale = show("decoder_scale")
for row in decoder_scale:
    print(
        f"{row['decoder']:>8} sigma {row['sigma']:.3f}: KL {row['kl']:6.2f} nats, MSE {row['mse']:.4f}, "
        f"sharpness {row['sharpness']:.4f}"
    )

# %% [markdown]
# ## 3. Latent size
#
# One Bernoulli VAE per latent size, same networks and budget; the test ELBO on a static
# binarization of the test images.

# %%
latent_size = show("latent_size")
for row in latent_size:
    print(f"z in R^{row['latent_dim']:<2}: test ELBO {row['elbo']:8.2f} (reconstruction {row['reconstruction']:8.2f}, KL {row['kl']:6.2f})")

# %% [markdown]
# ## 4. VAE, AE and DAE codes as representations
#
# Same networks, same budget, a 10-D code each. A 5-nearest-neighbour classifier and a linear
# probe (multinomial logistic regression) from the training codes to the classes, test accuracy;
# and per latent unit the Kolmogorov-Smirnov distance of the test codes from N(0, 1). Only the
# VAE is trained to match the prior, so only its codes are drawn towards N(0, I).

# %%
representations = show("representations")
for kind, row in representations.items():
    print(
        f"{kind.upper():>3}: k-NN {row['knn_accuracy']:.3f}, linear probe {row['linear_probe_accuracy']:.3f}, "
        f"mean KS vs N(0, 1) {row['mean_ks']:.3f}"
    )

# %% [markdown]
# ## 5. The ELBO gap
#
# For each test image, log p(x) from IS-K (K = 5000 in the full run) minus the ELBO from the
# same draws: an estimate of KL(q(z|x) || p(z|x)), the price of the posterior family. It is >= 0
# up to Monte Carlo error; the richer families (a full covariance, an IAF) may close part of it,
# given training enough to use them.

# %%
elbo_gap = show("elbo_gap")
for name, row in elbo_gap.items():
    print(
        f"{name:>15}: mean gap {row['mean_gap']:.2f} nats (median {row['median_gap']:.2f}, min {row['min_gap']:.2f}); "
        f"IS log p(x) {row['mean_log_px']:.2f}, ELBO {row['mean_elbo']:.2f}"
    )

# %% [markdown]
# ## 6. E[x|z] or x ~ p(x|z)?
#
# `model.sample(n, seed)` returns the decoder's mean; `model.sample(n, seed, draw=True)` draws
# from p(x|z) at the same z (`keras-vae sample RUN --draw` from the command line). A Bernoulli
# decoder's draws are binary images; a Gaussian decoder's are the mean plus pixel noise of
# scale sigma, which is why tutorials show the means.

# %%
draws = show("draws")
print(draws)
print(f"All six experiments in {time.perf_counter() - START:.0f} s")
