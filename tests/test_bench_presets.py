"""The paired subset estimate of bench/bench_presets.py against the exact full-population mean."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))

from bench_presets import _paired_estimate  # noqa: E402


def _population(seed=0, size=10_000):
    # Per-image log p(x) of a reference and of a model: spread ~76 nats between images (as the
    # presets' IS-5000 on Fashion-MNIST), ~5 nats of model-specific difference, 1.5 nats better on average.
    rng = np.random.default_rng(seed)
    reference = -230.0 + 76.0 * rng.standard_normal(size)
    model = reference + 1.5 + 5.0 * rng.standard_normal(size)
    return reference, model


def _estimate(reference, model, n, seed):
    subset = np.random.default_rng(seed).choice(len(reference), n, replace=False)
    kept = {"preset": "reference", "full_test_nll": float(-reference.mean()), "subset_log_px": reference[subset],
            "test_images": len(reference)}
    return _paired_estimate(model[subset], kept)


def test_paired_estimate_recovers_the_full_mean_and_its_standard_error_is_calibrated():
    reference, model = _population()
    truth = -model.mean()
    estimates = [_estimate(reference, model, 300, seed) for seed in range(400)]
    values = np.array([e["nll"] for e in estimates])
    errors = np.array([e["nll_standard_error"] for e in estimates])
    # Unbiased: the mean of 400 estimates within 4 of its standard errors (0.29 / sqrt(400) each).
    assert abs(values.mean() - truth) < 4 * errors.mean() / np.sqrt(len(values))
    # Calibrated: the spread over subsets matches the stated standard error within 15%.
    assert abs(values.std(ddof=1) / errors.mean() - 1.0) < 0.15
    # Pairing is the point: the estimate is ~15x tighter than the subset's own mean.
    assert errors.mean() < estimates[0]["subset"]["nll_standard_error"] / 10


def test_paired_estimate_is_exact_on_the_whole_population():
    reference, model = _population(seed=1, size=500)
    kept = {"preset": "reference", "full_test_nll": float(-reference.mean()), "subset_log_px": reference,
            "test_images": len(reference) + 1}  # N > n: the finite-population factor stays positive
    estimate = _paired_estimate(model, kept)
    np.testing.assert_allclose(estimate["nll"], -model.mean(), rtol=1e-12)
    assert estimate["subset"]["mean_difference"] < 0  # the model is better: its NLL is lower
