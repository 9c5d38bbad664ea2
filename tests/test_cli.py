"""`keras-vae train`: artifacts on real data, users' own files, and clear errors."""

import csv
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from keras_vae.cli import main

ARTIFACTS = ("model.keras", "history.csv", "metrics.json", "samples.png", "reconstructions.png", "tensorboard")
FAST = ["--epochs", "2", "--steps-per-epoch", "5", "--batch-size", "32", "--latent-dim", "4"]


def read_png(path):
    with Image.open(path) as image:
        image.load()
        return image.size


def test_train_on_fashion_mnist_writes_every_artifact(tmp_path, fashion_mnist_data_dir, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data-dir", str(fashion_mnist_data_dir), "--out", str(out)] + FAST) == 0
    assert sorted(os.listdir(out)) == sorted(ARTIFACTS)
    model = keras.models.load_model(out / "model.keras")
    assert model.data_shape == (28, 28, 1) and model.latent_dim == 4
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {"elbo", "kl", "reconstruction", "val_elbo"} <= set(rows[0])
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["test"]
    assert test["num_examples"] == 10_000 and test["units"] == "nats per example"
    np.testing.assert_allclose(test["elbo"], test["reconstruction"] - test["kl"], rtol=1e-4)
    assert metrics["settings"]["binarize"] == "dynamic" and metrics["epochs_completed"] == 2
    width, height = read_png(out / "samples.png")
    assert width >= 8 * 28 and height >= 8 * 28
    assert read_png(out / "reconstructions.png")[0] >= 8 * 28
    assert any(name.startswith("events") for _, _, files in os.walk(out / "tensorboard") for name in files)
    assert "Test ELBO" in capsys.readouterr().out

    # The same directory again: refused before any work, the model left as it was.
    before = (out / "model.keras").stat().st_mtime_ns
    assert main(["train", "--data-dir", str(fashion_mnist_data_dir), "--out", str(out)] + FAST) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "model.keras").stat().st_mtime_ns == before


def write_png_folder(root, shape, per_class=12, classes=("cats", "dogs")):
    rng = np.random.default_rng(0)
    for name in classes:
        os.makedirs(root / name)
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
            Image.fromarray(pixels.squeeze()).save(root / name / f"{i}.png")
    return root


def test_train_on_an_rgb_image_folder_of_another_shape(tmp_path):
    folder = write_png_folder(tmp_path / "images", (20, 24, 3))
    out = tmp_path / "run"
    args = ["train", "--data", str(folder), "--architecture", "conv", "--likelihood", "gaussian", "--out", str(out)]
    assert main(args + FAST) == 0
    assert keras.models.load_model(out / "model.keras").data_shape == (20, 24, 3)
    assert sorted(os.listdir(out)) == sorted(ARTIFACTS)


def test_train_on_a_npy_array_of_another_shape(tmp_path, capsys):
    path = tmp_path / "digits.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, size=(40, 12, 10), dtype=np.uint8))
    out = tmp_path / "run"
    assert main(["train", "--data", str(path), "--out", str(out), "--binarize", "static"] + FAST) == 0
    model = keras.models.load_model(out / "model.keras")
    assert model.data_shape == (12, 10, 1)
    assert json.loads((out / "metrics.json").read_text())["test"]["num_examples"] == 4
    # --draw: draws x ~ p(x|z) at the same z as the means (binary images for this Bernoulli run).
    for args, name in (([], "means.png"), (["--draw"], "draws.png")):
        assert main(["sample", str(out), "--n", "4", "--out", str(tmp_path / name)] + args) == 0
    assert "4 draws x ~ p(x|z) (seed 0)" in capsys.readouterr().out
    assert (tmp_path / "means.png").read_bytes() != (tmp_path / "draws.png").read_bytes()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--likelihood", "poisson"], "invalid choice: 'poisson' (choose from"),
        (["--architecture", "resnet"], "invalid choice: 'resnet' (choose from"),
        (["--binarize", "sometimes"], "invalid choice: 'sometimes'"),
        (["--epochs", "zero"], "expected a positive integer"),
        (["--latent-dim", "-3"], "expected a positive integer"),
    ],
)
def test_bad_arguments_name_the_valid_values(args, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--out", str(tmp_path / "run")] + args)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "m2", "--labels-per-class", "1", "--beta", "2"], "model 'm2' does not take beta"),
        (["--model", "glow", "--binarize", "none", "--num-samples", "5"], "model 'glow' does not take num_samples"),
        (["--model", "vae", "--num-scales", "3"], "model 'vae' does not take num_scales"),
        (["--model", "ae", "--beta-schedule", "linear"], "anneals beta, which model 'ae' does not take"),
    ],
)
def test_options_the_model_kind_would_ignore_are_refused(args, message, capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out)] + args + FAST) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_bad_data_fails_before_training_and_writes_nothing(tmp_path, capsys, fashion_mnist_data_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(mixed / "a.png")
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(mixed / "b.png")
    nan_file = tmp_path / "nan.npy"
    np.save(nan_file, np.full((10, 4, 4), np.nan, dtype="float32"))
    cases = [
        (["--data", str(empty)], "no images"),
        (["--data", str(mixed)], "size"),
        (["--data", str(nan_file)], "NaN"),
        (["--data", str(tmp_path / "missing.npy")], "missing.npy"),
        (["--dataset", "no_such_dataset", "--data-dir", str(fashion_mnist_data_dir)], "no_such_dataset"),
        (["--likelihood", "gaussian", "--binarize", "dynamic"], "binarize='dynamic' makes binary data"),
    ]
    for i, (args, message) in enumerate(cases):
        out = tmp_path / f"run{i}"
        assert main(["train", "--out", str(out)] + args + FAST) == 2, args
        assert message.lower() in capsys.readouterr().err.lower(), args
        assert not out.exists(), args


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "keras_vae", "train", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    for flag in ("--dataset", "--data", "--architecture", "--latent-dim", "--likelihood", "--binarize",
                 "--epochs", "--steps-per-epoch", "--batch-size", "--beta", "--seed", "--out"):
        assert flag in result.stdout


def test_train_sample_and_plot_a_conditional_run_from_the_command_line(tmp_path, fashion_mnist_data_dir, capsys):
    # The whole path through `keras-vae`: train --model cvae, then sample one class and plot.
    out = tmp_path / "cvae"
    train = ["train", "--model", "cvae", "--data-dir", str(fashion_mnist_data_dir), "--out", str(out), "--no-jit"]
    assert main(train + FAST[:6] + ["--latent-dim", "2"]) == 0
    assert main(["sample", str(out), "--label", "7", "--n", "8", "--seed", "1", "--out", str(tmp_path / "a.png")]) == 0
    assert main(["sample", str(out), "--label", "7", "--n", "8", "--seed", "1", "--out", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert main(["sample", str(out), "--label", "10"]) == 2
    assert "0..9" in capsys.readouterr().err
    assert main(["plot", str(out), "--max-examples", "200"]) == 0
    assert sorted(os.listdir(out / "figures")) == [
        "analogies.png", "class_samples.png", "interpolation.png", "latent_scatter.png", "reconstructions.png",
        "training_curves.png", "traversals.png",
    ]
    assert read_png(out / "figures" / "class_samples.png")[1] > 10 * 28  # one row per class
