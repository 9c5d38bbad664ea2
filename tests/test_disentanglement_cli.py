"""The command line on a sprites run: train with --objective tcvae, evaluate --disentanglement, plot."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from keras_vae.cli import main

TINY = ["--epochs", "1", "--steps-per-epoch", "4", "--batch-size", "64", "--latent-dim", "3", "--no-jit"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("disentanglement_cli") / "run"
    cache = out.parent / "cache"
    train = ["train", "--dataset", "sprites_small", "--data-dir", str(cache), "--objective", "tcvae", "--tc-weight", "4"]
    assert main(train + ["--out", str(out)] + TINY) == 0
    return out


@pytest.mark.slow(reason="trains models for several epochs")
def test_tcvae_on_sprites_evaluated_and_plotted(trained_run, capsys):
    out = trained_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["objective"] == "tcvae" and metrics["settings"]["tc_weight"] == 4.0
    test = metrics["test"]
    # The split's three terms add up to the Monte Carlo KL, whose mean is close to the analytic KL metric.
    assert np.isfinite([test["mutual_information"], test["total_correlation"], test["dimension_kl"]]).all()
    capsys.readouterr()

    evaluate = ["evaluate", str(out), "--importance-samples", "2", "--max-examples", "50", "--disentanglement",
                "--disentanglement-scale", "0.1"]
    assert main(evaluate) == 0
    assert "Disentanglement: MIG" in capsys.readouterr().out
    scores = json.loads((out / "evaluation.json").read_text())["disentanglement"]
    for name in ("mig", "factor_vae", "dci_disentanglement", "dci_completeness", "dci_informativeness", "beta_vae"):
        assert 0.0 <= scores[name] <= 1.0, (name, scores[name])
    assert scores["sample_sizes"]["mig_samples"] == 400

    assert main(["plot", str(out), "--max-examples", "100"]) == 0
    figures = out / "figures"
    heat = np.asarray(Image.open(figures / "factor_information.png"))
    traversals = np.asarray(Image.open(figures / "kl_traversals.png"))
    assert heat.shape[0] > 50 and traversals.shape[0] > 50 and traversals.std() > 0


def _retarget(run, path, tmp_path):
    """A copy of `run` whose settings say it trained on the user's array at `path` (no factors)."""
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    metrics["settings"].update({"data": str(path), "binarize": "static"})
    (copy / "metrics.json").write_text(json.dumps(metrics))
    (copy / "evaluation.json").unlink(missing_ok=True)  # written only if another test evaluated the run
    return copy


def test_disentanglement_needs_a_factor_dataset(trained_run, tmp_path, capsys):
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, (40, 32, 32), np.uint8))
    copy = _retarget(trained_run, path, tmp_path)
    assert main(["evaluate", str(copy), "--importance-samples", "2", "--disentanglement"]) == 2
    error = capsys.readouterr().err
    assert "known factors" in error and "--dataset sprites" in error
    assert not (copy / "evaluation.json").exists()
