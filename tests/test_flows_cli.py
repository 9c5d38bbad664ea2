"""`keras-vae train --model glow|realnvp` on a user's array, then evaluate, sample --temperature and plot."""

import csv
import json
import math
import os

import keras
import numpy as np
import pytest
from PIL import Image

from keras_vae.cli import main

ARTIFACTS = ("model.keras", "history.csv", "metrics.json", "samples.png", "reconstructions.png", "tensorboard")
FLOW = ["--num-scales", "2", "--steps-per-scale", "1", "--hidden-channels", "4", "--no-jit"]


def labelled_array(path, shape, n=48, classes=3):
    rng = np.random.default_rng(0)
    np.savez(path, images=rng.integers(0, 256, (n,) + shape, dtype=np.uint8), labels=np.arange(n) % classes)
    return path


@pytest.mark.slow(reason="trains through the command line")
def test_flow_run_from_the_command_line(tmp_path, capsys):
    data = labelled_array(tmp_path / "grey.npz", (12, 12, 1))
    out = tmp_path / "glow"
    train = ["train", "--model", "glow", "--data", str(data), "--out", str(out), "--epochs", "1",
             "--steps-per-epoch", "2", "--batch-size", "16"]
    assert main(train + FLOW) == 0
    assert "bits/dim" in capsys.readouterr().out
    assert sorted(os.listdir(out)) == sorted(ARTIFACTS)
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["test"]
    # Both figures in the same units: bits/dim = NLL / (D ln 2), D = 144.
    assert math.isclose(test["bits_per_dim"], test["loss"] / (144 * math.log(2)), rel_tol=1e-4)
    assert metrics["settings"]["binarize"] == "none"  # a flow models the 8-bit grey levels as they are
    with open(out / "history.csv") as f:
        assert {"bits_per_dim", "log_det", "val_bits_per_dim"} <= set(next(csv.DictReader(f)))
    with Image.open(out / "samples.png") as image:
        assert image.size[1] > 8 * 12  # 8 rows: 4 at T = 1, 4 at T = 0.7
    model = keras.models.load_model(out / "model.keras")
    assert model.latent_dim == 144

    assert main(["evaluate", str(out), "--max-examples", "4", "--batch-size", "4"]) == 0
    printed = capsys.readouterr().out
    assert "exact NLL" in printed and "bits/dim" in printed
    result = json.loads((out / "evaluation.json").read_text())
    assert result["num_examples"] == 4 and math.isclose(
        result["bits_per_dim"], result["nll"] / (144 * math.log(2)), rel_tol=1e-9
    )
    cold, warm = tmp_path / "cold.png", tmp_path / "warm.png"
    assert main(["sample", str(out), "--n", "8", "--temperature", "0.5", "--out", str(cold)]) == 0
    assert main(["sample", str(out), "--n", "8", "--temperature", "1.0", "--out", str(warm)]) == 0
    assert cold.read_bytes() != warm.read_bytes()
    assert main(["sample", str(out), "--temperature", "0"]) == 2
    assert "positive" in capsys.readouterr().err
    assert main(["plot", str(out), "--max-examples", "12"]) == 0
    figures = set(os.listdir(out / "figures"))
    assert {"interpolation.png", "attribute_arithmetic.png", "samples.png", "training_curves.png"} <= figures


def test_a_shape_the_squeezes_do_not_divide_is_refused_before_any_work(tmp_path, capsys):
    data = labelled_array(tmp_path / "odd.npz", (10, 10, 3), n=12)
    out = tmp_path / "realnvp"
    train = ["train", "--model", "realnvp", "--data", str(data), "--out", str(out), "--epochs", "1"]
    assert main(train + FLOW[:-1] + ["--num-scales", "3"]) == 2
    error = capsys.readouterr().err
    assert "divide by 4; got 10x10" in error and "12x12" in error
    assert not out.exists() or not any(name.endswith(".keras") for name in os.listdir(out))
