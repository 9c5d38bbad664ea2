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
# # Disentanglement you can measure: a beta sweep on sprites
#
# A beta-VAE (Higgins et al. 2017) weights the ELBO's KL term by beta > 1, pressing q(z|x) towards the
# factorised prior; beta-TCVAE (Chen et al. 2018) splits the KL into index-code mutual information,
# total correlation (TC) and dimension-wise KL and weights only the TC. Whether a latent unit then
# captures one factor of variation can only be measured on data whose factors are known: here the
# sprites set that keras-vae draws itself (square, ellipse, heart x scale x orientation x position;
# `keras_vae.data.sprites`, modelled on dSprites but not its files), scored with MIG, the FactorVAE
# score, DCI and the beta-VAE score (`keras_vae.disentanglement`).
#
# `KERAS_VAE_FAST=1` trains three models for 50 steps each on the small variant (2,304 images)
# and scores with small samples: the numbers then say little, the code path is the same. The full
# run (sprites_medium, beta 1, 4 and 16, 1,000 steps per model, larger metric samples) takes about
# ten minutes on two shared CPU cores. bench/bench_disentanglement.py is the sweep with three seeds.

# %%
# %matplotlib inline
import os

import keras
import numpy as np
from matplotlib.figure import Figure

from keras_vae import plotting
from keras_vae.data import load_sprite_splits, make_dataset, make_epoch_dataset
from keras_vae.disentanglement import FactorDataset, evaluate_disentanglement, factor_entropy, mutual_information_matrix
from keras_vae.models import build_model

FAST = os.environ.get("KERAS_VAE_FAST") == "1"
VARIANT = "sprites_small" if FAST else "sprites_medium"
STEPS = 50 if FAST else 1000
BETAS = (1, 8) if FAST else (1, 4, 16)
# Fast mode: beta-TCVAE at the largest beta only (each model costs its own tracing).
CONFIGS = [("beta-VAE", beta) for beta in BETAS] + [("beta-TCVAE", beta) for beta in BETAS[-1 if FAST else 0:]]
METRIC_SCALE = 0.07 if FAST else 0.5
JIT = not FAST  # XLA compiles for seconds, which only pays off over many steps
keras.utils.set_random_seed(0)

# %% [markdown]
# ## The data: every combination of five factors
# `load_sprite_splits` draws the set once (a fraction of a second), caches it on disk, and splits it
# with a seeded permutation. `FactorDataset` holds the whole grid, so a metric can ask for images
# that share a factor value.

# %%
splits = load_sprite_splits(VARIANT, test_fraction=0.1, seed=0)
train_images, test_images = (splits[name][0].astype("float32") for name in ("train", "test"))
factors = FactorDataset.from_sprites(VARIANT)
print(f"{VARIANT}: {len(factors.observations)} images, factors {dict(zip(factors.factor_names, factors.factor_sizes))}")
rng = np.random.default_rng(0)
plotting.image_grid(factors.observations_for(factors.sample_factors(24, rng)), rows=3, cols=8, title="Sprites")

# %% [markdown]
# ## A sweep: beta-VAE and beta-TCVAE at each beta
# beta-TCVAE is the VAE with `objective="tcvae"`; its estimator of the aggregate posterior q(z) needs
# the training set's size. Each model gets the same budget of steps.


# %%
def train(method, beta):
    options = {"beta": float(beta)} if method == "beta-VAE" else {
        "objective": "tcvae", "tc_weight": float(beta), "dataset_size": len(train_images)}
    model = build_model("vae", train_images.shape[1:], "mlp", latent_dim=6, seed=0, **options)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=JIT)
    data, steps = make_epoch_dataset(train_images, batch_size=64, binarize="none", seed=0, epochs=1,
                                     steps_per_epoch=STEPS)
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    return model


def embed(model):
    return lambda x: keras.ops.convert_to_numpy(model.embed(x))


results, models = [], {}
for method, beta in CONFIGS:
    model = models[method, beta] = train(method, beta)
    test = model.evaluate(make_dataset(test_images, batch_size=256, shuffle=False), verbose=0, return_dict=True)
    scores = evaluate_disentanglement(embed(model), factors, seed=0, scale=METRIC_SCALE)
    results.append({"method": method, "beta": beta, "reconstruction": test["reconstruction"], **scores})
    print(f"{method:10s} beta {beta:>2}: reconstruction {test['reconstruction']:8.2f}  MIG {scores['mig']:.3f}  "
          f"FactorVAE {scores['factor_vae']:.3f}  DCI-D {scores['dci_disentanglement']:.3f}  "
          f"beta-VAE {scores['beta_vae']:.3f}")

# %% [markdown]
# ## The trade-off: each metric against reconstruction
# A larger beta buys (sometimes) a higher score with a worse reconstruction. One seed per point here;
# Locatello et al. (2019) found the seed moves these scores as much as the method does.

# %%
fig = Figure(figsize=(9, 3), layout="constrained")
for index, name in enumerate(("mig", "factor_vae", "dci_disentanglement", "beta_vae")):
    ax = fig.add_subplot(1, 4, index + 1)
    for method, marker in (("beta-VAE", "o"), ("beta-TCVAE", "s")):
        rows = [r for r in results if r["method"] == method]
        ax.plot([r["reconstruction"] for r in rows], [r[name] for r in rows], marker=marker, label=method)
        for r in rows:
            ax.annotate(f"{r['beta']}", (r["reconstruction"], r[name]), fontsize=7)
    ax.set_title(name, fontsize=9)
    ax.set_xlabel("reconstruction (nats)", fontsize=8)
fig.axes[0].legend(fontsize=7)
fig

# %% [markdown]
# ## Which unit holds which factor
# The heat map shows I(unit; factor) / H(factor) for the beta-TCVAE of the largest beta, its units
# sorted by their KL (units near 0 nats are unused); the traversals decode one unit at a time.

# %%
model = models["beta-TCVAE", BETAS[-1]]
kl = plotting.unit_kl(model, test_images[:500])
sample = factors.sample_factors(1000, rng)
matrix = mutual_information_matrix(plotting.latent_codes(model, factors.observations_for(sample)), sample)
plotting.plot_factor_mutual_information(matrix / factor_entropy(sample), factors.factor_names,
                                        unit_order=np.argsort(-kl))

# %%
plotting.plot_kl_sorted_traversals(model, test_images[0], kl)
