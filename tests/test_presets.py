"""Presets as data, `keras-vae train --preset`, and early stopping on a held-out validation split."""

import csv
import os

import numpy as np
import pytest

from keras_vae.cli import build_parser
from keras_vae.commands.train import settings_from_args
from keras_vae.presets import PRESETS, preset_settings
from keras_vae.runs import Split
from keras_vae.settings import TrainSettings
from keras_vae.training import _early_stopping, _hold_out, train


def parse(*argv):
    return settings_from_args(build_parser().parse_args(["train", *argv]))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_valid_settings(name):
    settings = TrainSettings(**preset_settings(name))
    settings.check()
    assert (settings.activation, settings.hidden_units, settings.latent_dim) == ("gated", 300, 40)
    assert (settings.learning_rate, settings.batch_size, settings.preset) == (5e-4, 100, name)
    assert settings.early_stopping_patience > 0 and settings.beta_schedule == "linear"


def test_cli_preset_with_explicit_flags_overriding():
    settings = parse("--preset", "convhvae_vamp", "--epochs", "3", "--batch-size", "128")
    assert (settings.model, settings.architecture, settings.prior) == ("hvae", "conv", "vamp")
    # 128 is also the parser's default: an explicit flag wins even when it equals the default.
    assert (settings.epochs, settings.batch_size, settings.learning_rate) == (3, 128, 5e-4)
    assert parse("--epochs", "3").activation == "relu"  # no preset: the defaults
    with pytest.raises(SystemExit):
        parse("--preset", "no_such_preset")
    with pytest.raises(ValueError, match="Unknown preset"):
        preset_settings("no_such_preset")
    # The hvae has no free bits: refused, not silently ignored.
    with pytest.raises(ValueError, match="does not take free_bits"):
        parse("--preset", "hvae_vamp", "--free-bits", "0.5", "--prior", "standard_normal").check()


def test_hold_out_and_early_stopping_callback():
    split = Split(np.arange(60, dtype="float32")[:, None], np.arange(60) % 3)
    kept, held = _hold_out(split, 1 / 6, seed=0)
    assert len(held.examples) == 10 and len(kept.examples) == 50
    assert not set(held.examples[:, 0]) & set(kept.examples[:, 0])
    np.testing.assert_array_equal(held.labels, held.examples[:, 0].astype(int) % 3)

    class Kind:
        metric_names = ("loss", "elbo")

    callback = _early_stopping(Kind(), 4)
    assert (callback.monitor, callback.patience, callback.restore_best_weights) == ("val_elbo", 4, True)


@pytest.mark.slow(reason="trains models for several epochs")
def test_training_with_early_stopping_and_gated_units(tmp_path):
    data = os.path.join(tmp_path, "x.npy")
    np.save(data, np.random.default_rng(0).integers(0, 256, (60, 8, 8), np.uint8))
    out = os.path.join(tmp_path, "run")
    settings = TrainSettings(
        data=data, out=out, epochs=2, latent_dim=2, hidden_units=8, activation="gated", model="hvae",
        early_stopping_patience=1, validation_fraction=0.2, batch_size=16, verbose=0, jit_compile=False,
        learning_rate=1e-2,
    )
    metrics = train(settings)
    assert 1 <= metrics["epochs_completed"] <= 2
    with open(os.path.join(out, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    assert "val_elbo" in rows[0] and len(rows) == metrics["epochs_completed"] == 2  # patience 1: 2 epochs at least
    assert float(rows[1]["loss"]) < float(rows[0]["loss"])  # the hvae with gated units learns
    assert metrics["settings"]["activation"] == "gated"


def test_figures_reached_here_come_from_the_benchmark_results():
    # presets.py quotes what bench/bench_presets.py measured: the quote must match the committed result.
    import json

    from keras_vae.presets import describe_presets

    results = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "results")
    lines = dict(line.split(": ", 1) for line in describe_presets())
    for name, entry in PRESETS.items():
        if entry["reached_here"] is None:
            assert "here: not measured yet" in lines[name]
            continue
        with open(os.path.join(results, f"presets_{name}.json")) as f:
            last = json.load(f)["history"][-1]
        assert f"NLL {last['nll']:.2f} after {round(last['train_minutes'])} min" in entry["reached_here"]
        # An estimate from a subset of the test images must say so where users read the figure.
        assert ("estimated" in entry["reached_here"]) == ("nll_method" in last)
        assert entry["reached_here"] in lines[name]
