"""Hostile and careless input, round 3: options that would be ignored or crash late are refused at once.

Each case runs `keras_vae.cli.main` in-process and asserts the message the user sees and that no
work was done (no run directory, no evaluation.json).
"""

import numpy as np
import pytest

from keras_vae.cli import main
from keras_vae.settings import TrainSettings
from keras_vae.training import uses_xla

FLOW = ["--num-scales", "2", "--steps-per-scale", "1", "--hidden-channels", "4", "--epochs", "1", "--no-jit"]
FLOW_TAKES = "(it takes ['num_scales', 'steps_per_scale', 'hidden_channels'])"


@pytest.fixture
def grey_images(tmp_path):
    path = tmp_path / "grey.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, (16, 8, 8), np.uint8))
    return path


@pytest.mark.parametrize("model", ["realnvp", "glow"])
@pytest.mark.parametrize(
    "option, value, field, default",
    [
        ("--latent-dim", "8", "latent_dim", "32"),
        ("--likelihood", "gaussian", "likelihood", "'bernoulli'"),
        ("--activation", "gated", "activation", "'relu'"),
        ("--hidden-units", "16", "hidden_units", "None"),
        ("--gaussian-scale", "0.1", "gaussian_scale", "None"),
        ("--architecture", "conv", "architecture", "'mlp'"),
    ],
)
def test_flows_refuse_the_encoder_decoder_options_they_would_ignore(
    model, option, value, field, default, grey_images, tmp_path, capsys
):
    out = tmp_path / "run"
    code = main(["train", "--model", model, "--data", str(grey_images), "--out", str(out), option, value] + FLOW)
    assert code == 2
    assert (
        f"keras-vae train: error: model {model!r} does not take {field} {FLOW_TAKES}; leave {field} at {default} "
        "or choose another model." in capsys.readouterr().err
    )
    assert not out.exists()  # refused before the run directory (and its metrics.json) was written


def test_a_flow_run_recorded_with_options_it_ignored_still_loads():
    # Runs written before flows refused them recorded such options; the flow trained without them.
    recorded = {"model": "glow", "binarize": "none", "latent_dim": 16, "likelihood": "gaussian", "hidden_units": 64,
                "num_scales": 2}
    settings = TrainSettings.from_dict(recorded)
    assert (settings.latent_dim, settings.likelihood, settings.hidden_units) == (32, "bernoulli", None)
    assert settings.num_scales == 2
    # A VAE's recorded encoder/decoder options are its own and are kept.
    assert TrainSettings.from_dict({"model": "vae", "latent_dim": 16}).latent_dim == 16


def test_the_vae_kinds_still_take_the_encoder_decoder_options():
    for model in ("vae", "cvae", "ae", "dae", "hvae"):
        TrainSettings(model=model, latent_dim=8, activation="gated", hidden_units=16, architecture="conv").check()
    TrainSettings(likelihood="gaussian", gaussian_scale=0.1, binarize="none").check()


@pytest.mark.parametrize(
    "value, message",
    [
        ("inf", "argument --disentanglement-scale: expected a finite number, got 'inf'"),
        ("nan", "argument --disentanglement-scale: expected a finite number, got 'nan'"),
        ("0", "argument --disentanglement-scale: the disentanglement scale must be a number from 0.0667 to 20"),
        ("-1", "the disentanglement scale must be a number from 0.0667 to 20"),
        ("0.0001", "below 0.0667 a metric would draw fewer than 20 samples), got 0.0001."),
        ("1e6", "the disentanglement scale must be a number from 0.0667 to 20"),
    ],
)
def test_a_bad_disentanglement_scale_is_refused_before_any_work(value, message, tmp_path, capsys):
    run_dir = tmp_path / "run"  # argparse refuses the value before the run is even looked at
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", str(run_dir), "--disentanglement", "--disentanglement-scale", value])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    assert not run_dir.exists()


def test_the_library_checks_the_scale_before_reading_the_run(tmp_path):
    from keras_vae.disentanglement import FactorDataset, evaluate_disentanglement
    from keras_vae.evaluation import evaluate_run

    # A missing run would be a RunNotFoundError: the scale is checked first.
    with pytest.raises(ValueError, match=r"scale must be a number from 0\.0667 to 20 .*got 0\.0001"):
        evaluate_run(str(tmp_path / "missing"), disentanglement=True, disentanglement_scale=0.0001)
    with pytest.raises(ValueError, match="got inf"):
        evaluate_disentanglement(lambda x: x, FactorDataset.from_factor_grid((2, 3)), scale=float("inf"))


def test_a_disentanglement_scale_without_disentanglement_is_refused(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "run"), "--disentanglement-scale", "0.5"]) == 2
    assert (
        "keras-vae evaluate: error: --disentanglement-scale 0.5 sizes the disentanglement metrics, which only "
        "--disentanglement computes; add --disentanglement or drop --disentanglement-scale."
    ) in capsys.readouterr().err


def test_multi_worker_training_on_cpus_runs_without_xla():
    # XLA:CPU has no collectives; tests/test_readme_commands.py runs the README's cluster command.
    assert uses_xla(TrainSettings(strategy="multi-worker")) is False
    assert uses_xla(TrainSettings(strategy="mirrored")) is True  # one CPU replica: no collective
    assert uses_xla(TrainSettings(strategy="none")) is True
