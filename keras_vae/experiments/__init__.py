"""The tutorial's experiments: the theory's claims, measured (one module per experiment).

    estimators       1. log p(x) by sampling the prior vs importance sampling from q(z|x), K = 1 .. 10^5
    decoder_scale    2. the Gaussian decoder's sigma as a regulariser: KL, error, sharpness vs sigma
    latent_size      3. samples and test ELBO for latent sizes 2, 5, 10, 20, 50
    representations  4. VAE vs AE vs DAE codes: k-NN and linear probes, normality per unit
    elbo_gap         5. log p(x) - ELBO per test image for diagonal, full-covariance and IAF posteriors
    draws            6. E[x|z] against draws x ~ p(x|z)

Each module's `run(data, models, seed)` returns `(results, figures)`: JSON-ready numbers and
matplotlib figures by name. `run_experiments` runs several on one set of data, training each
model recipe once; `keras-vae experiment NAME... --out DIR` writes their results and figures.
"""

import importlib
import time

from keras_vae.experiments.common import FAST, FULL, Budget, TrainedModels, budget_from_environment, load_fashion_mnist

#: Experiment name -> module (each with `run(data, models, seed)`).
EXPERIMENTS = {
    "estimators": "keras_vae.experiments.estimators",
    "decoder_scale": "keras_vae.experiments.decoder_scale",
    "latent_size": "keras_vae.experiments.latent_size",
    "representations": "keras_vae.experiments.representations",
    "elbo_gap": "keras_vae.experiments.elbo_gap",
    "draws": "keras_vae.experiments.draws",
}


def run_experiment(name, data, models, seed=0):
    """Runs one experiment; returns `(results, figures, seconds)`.

    Args:
        name: str. A key of `EXPERIMENTS`.
        data: `load_fashion_mnist(budget, data_dir)`.
        models: `TrainedModels(budget)`, shared by the experiments of a session.
        seed: int, default 0.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"Unknown experiment {name!r}; choose from {list(EXPERIMENTS)}.")
    start = time.perf_counter()
    results, figures = importlib.import_module(EXPERIMENTS[name]).run(data, models, seed=seed)
    return results, figures, time.perf_counter() - start


def run_experiments(names, budget=None, data_dir=None, seed=0):
    """Runs experiments by name on one Fashion-MNIST load; yields `(name, results, figures, seconds)`.

    Args:
        names: sequence of keys of `EXPERIMENTS`.
        budget: `Budget` or None (`budget_from_environment()`: FAST when KERAS_VAE_FAST=1).
        data_dir: str or None. TFDS data dir.
        seed: int, default 0.

    Usage (the notebook 08_tutorial_experiments runs all six; tests/test_experiments.py each):

        for name, results, figures, seconds in run_experiments(["latent_size"], FAST):
            print(name, results, seconds)
    """
    unknown = [name for name in names if name not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"Unknown experiment(s) {unknown}; choose from {list(EXPERIMENTS)}.")
    budget = budget or budget_from_environment()
    data = load_fashion_mnist(budget, data_dir)
    models = TrainedModels(budget)
    for name in names:
        yield (name, *run_experiment(name, data, models, seed))


__all__ = [
    "EXPERIMENTS",
    "FAST",
    "FULL",
    "Budget",
    "TrainedModels",
    "budget_from_environment",
    "load_fashion_mnist",
    "run_experiment",
    "run_experiments",
]
