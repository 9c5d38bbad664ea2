"""Hostile and careless input, round 3: run directories that must hold what they record.

Each test reproduces an item of the issue through the command line, in process, and asserts the
message the user reads: an M1+M2 run given other data, a metrics.json with empty settings, images
of 2 and 5 channels, a run that failed after training, a killed run re-run with other settings,
a stale evaluation.json after --overwrite, single-class labels, and an --out that cannot be made.
"""

import csv
import dataclasses
import json
import os

import numpy as np
import pytest
from PIL import Image

from keras_vae.cli import main
from keras_vae.settings import TrainSettings

FAST = ["--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "16", "--latent-dim", "2", "--no-jit"]


def _labelled(path, n=64, classes=2, channels=None, seed=0):
    """Writes n random 8x8 images (with `channels`, or none) and labels 0..classes-1 to a .npz; returns the path."""
    rng = np.random.default_rng(seed)
    shape = (n, 8, 8) if channels is None else (n, 8, 8, channels)
    np.savez(path, images=rng.integers(0, 256, shape, np.uint8), labels=np.arange(n) % classes)
    return path


def _rows(out):
    with open(os.path.join(out, "history.csv"), newline="") as f:
        return list(csv.DictReader(f))


def _metrics(out):
    return json.loads((out / "metrics.json").read_text())


# Item 1: an M1+M2 run uses the M1 run's data, so --data (or --dataset) beside --m1-run is refused.


@pytest.mark.parametrize("source", [["--data", "labelled.npz"], ["--dataset", "mnist"]])
def test_m1_run_with_other_data_is_refused_before_any_work(tmp_path, capsys, monkeypatch, source):
    monkeypatch.chdir(tmp_path)
    _labelled(tmp_path / "labelled.npz")
    out = tmp_path / "m2"
    argv = ["train", "--model", "m2", "--likelihood", "gaussian", *source, "--labels-per-class", "5",
            "--m1-run", str(tmp_path / "m1"), "--out", str(out)] + FAST
    assert main(argv) == 2
    err = capsys.readouterr().err
    given = " ".join(source)
    assert (
        f"keras-vae train: error: --m1-run trains M2 on the M1 run's own data (its images mapped through its "
        f"encoder), so {given} would be ignored; drop {source[0]}, or train the M1 VAE on that data first and "
        "pass its run as --m1-run." in err
    ), err
    assert not out.exists()


def test_settings_recording_other_data_beside_an_m1_run_do_not_load(tmp_path):
    # A run written before this check recorded data it did not train on: reading it back says so.
    from keras_vae.runs import Run, RunError

    run = tmp_path / "m2"
    run.mkdir()
    settings = TrainSettings(model="m2", likelihood="gaussian", binarize="none", labels_per_class=5,
                             m1_run="m1", data="labelled.npz")
    (run / "metrics.json").write_text(json.dumps({"settings": dataclasses.asdict(settings)}))
    with pytest.raises(RunError, match=r'metrics.json, "settings": --m1-run trains M2 on the M1 run\'s own data'):
        Run(run).settings()


# Item 2: metrics.json whose settings name no data is refused, naming metrics.json.


def _run_with_settings(root, settings):
    from keras_vae.models import build_vae

    root.mkdir()
    build_vae((8, 8, 1), latent_dim=2, seed=0).save(root / "model.keras")
    (root / "metrics.json").write_text(json.dumps({"status": "finished", "settings": settings, "test": {}}))
    return root


MISSING = ('{path}, "settings" lacks "data", "dataset", "binarize", "seed" and "validation_fraction", which every '
           "run written by `keras-vae train` records, so the run's data is unknown; it was edited or not written by "
           "`keras-vae train`. Restore it, or train the run again.")


def test_plot_refuses_a_run_whose_settings_are_empty(tmp_path, capsys):
    run = _run_with_settings(tmp_path / "run", {})
    assert main(["plot", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "keras-vae plot: error: " + MISSING.format(path=run / "metrics.json"), err
    assert sorted(os.listdir(run)) == ["metrics.json", "model.keras"]


def test_an_m1_run_whose_settings_are_empty_is_refused(tmp_path, capsys):
    m1 = _run_with_settings(tmp_path / "m1", {})
    out = tmp_path / "m2"
    argv = ["train", "--model", "m2", "--likelihood", "gaussian", "--labels-per-class", "5", "--m1-run", str(m1),
            "--out", str(out)] + FAST
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "keras-vae train: error: " + MISSING.format(path=m1 / "metrics.json") in err, err
    assert not (out / "model.keras").exists()


# Item 7: images of any channel count train to a finished run with figures (channels side by side).


def test_images_of_5_channels_train_to_a_finished_run_with_figures(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).integers(0, 256, (64, 8, 8, 5), np.uint8))
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--out", str(out)] + FAST) == 0
    assert f"artifacts in {out}" in capsys.readouterr().out
    assert _metrics(out)["status"] == "finished" and (out / "samples.png").is_file()
    with Image.open(out / "reconstructions.png") as image:
        width, height = image.size
    # 8 columns of 5 grey panels 8 pixels wide, against 6 rows of 8-pixel tiles.
    assert width > 4 * height, (width, height)


@pytest.mark.parametrize("channels", [2, 5, 6])
def test_every_channel_count_is_drawn_as_grey_panels(tmp_path, channels):
    from keras_vae import plotting

    images = np.zeros((4, 8, 8, channels), np.float32)
    images[..., -1] = 1.0  # the last channel white: the rightmost panel of every tile
    grid = plotting.tile_images(images, rows=2, cols=2)
    assert grid.shape == (17, 2 * channels * 8 + 1)
    assert grid[:8, channels * 8 - 8 : channels * 8].min() == 1.0 and grid[:8, : channels * 8 - 8].max() == 0.0
    plotting.save_figure(plotting.image_grid(images, rows=2, cols=2), tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 0


def test_a_run_that_fails_after_training_is_resumed_by_its_own_command(tmp_path, capsys, monkeypatch):
    import keras_vae.training

    np.save(tmp_path / "x.npy", np.random.default_rng(0).integers(0, 256, (64, 8, 8), np.uint8))
    out = tmp_path / "run"
    argv = ["train", "--data", str(tmp_path / "x.npy"), "--out", str(out)] + FAST
    write_figures = keras_vae.training.write_figures

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras_vae.training, "write_figures", disk_full)
    assert main(argv) == 2
    assert "keras-vae train: error: [Errno 28] No space left on device" in capsys.readouterr().err
    assert _metrics(out)["status"] == "training"
    # Not finished, so not evaluated as if it were; its backup keeps the trained epoch.
    assert main(["evaluate", str(out), "--importance-samples", "2"]) == 2
    assert (
        f"keras-vae evaluate: error: {out / 'model.keras'} belongs to a run that has not finished training "
        f"(metrics.json says status 'training'); wait for it, or re-run its train command to resume it."
        in capsys.readouterr().err
    )
    monkeypatch.setattr(keras_vae.training, "write_figures", write_figures)
    assert main(argv) == 0
    assert f"artifacts in {out}" in capsys.readouterr().out
    metrics = _metrics(out)
    assert metrics["status"] == "finished" and metrics["epochs_completed"] == 1 and metrics["resumed_from_epoch"] == 1
    assert len(_rows(out)) == 1 and (out / "samples.png").is_file() and not (out / "backup").exists()


# Item 9: an unfinished run is resumed only with its own settings, whenever it was killed.


def test_a_run_killed_before_its_first_backup_refuses_other_settings(tmp_path, capsys):
    data = _labelled(tmp_path / "labelled.npz")
    out = tmp_path / "run"
    out.mkdir()
    # As a training killed after CSVLogger wrote epoch 1 but before its backup leaves the directory.
    recorded = TrainSettings(data=str(data), model="m2", likelihood="gaussian", binarize="none", labels_per_class=5,
                             epochs=1, steps_per_epoch=2, batch_size=16, latent_dim=2, jit_compile=False, out=str(out))
    (out / "metrics.json").write_text(json.dumps({"status": "training", "settings": dataclasses.asdict(recorded)}))
    (out / "history.csv").write_text("epoch,loss\n0,12.5\n")
    argv = ["train", "--model", "m2", "--likelihood", "gaussian", "--data", str(data), "--labels-per-class", "7",
            "--out", str(out)] + FAST
    assert main(argv) == 2
    assert (
        f"keras-vae train: error: {out} holds an unfinished run with other settings (labels_per_class 5 there, 7 "
        "now). Re-run its own command to resume it, or pass --overwrite to start afresh." in capsys.readouterr().err
    )
    assert (out / "history.csv").read_text() == "epoch,loss\n0,12.5\n"


# Item 10: --overwrite removes the earlier model's evaluation.json.


def test_overwrite_removes_the_earlier_evaluation(tmp_path):
    # `train --overwrite` starts afresh through Run.claim, the one place a training removes files.
    from keras_vae.runs import Run

    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text(json.dumps({"status": "finished", "settings": {}, "test": {}}))
    (out / "model.keras").write_bytes(b"the earlier model")
    (out / "evaluation.json").write_text('{"nll": 1.0}')
    (out / "notes.txt").write_text("mine")
    with Run(out).claim(TrainSettings(out=str(out), overwrite=True)) as initial_epoch:
        assert initial_epoch == 0
        assert sorted(os.listdir(out)) == [".keras-vae.lock", "metrics.json", "notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"


# Item 12: single-class labels and an --out that cannot be created.


def test_single_class_labels_are_refused_with_the_reason(tmp_path, capsys):
    data = _labelled(tmp_path / "one.npz", classes=1)
    out = tmp_path / "run"
    argv = ["train", "--model", "m2", "--likelihood", "gaussian", "--data", str(data), "--labels-per-class", "5",
            "--out", str(out)] + FAST
    assert main(argv) == 2
    assert (
        f"keras-vae train: error: --model m2 learns from class labels, but every training label of {data} is "
        "class 0: it needs examples of at least 2 classes. Add examples of other classes, or train a model "
        "that needs no labels (e.g. --model vae)." in capsys.readouterr().err
    )
    assert not out.exists()


def test_an_out_that_cannot_be_created_is_refused_before_loading_data(tmp_path, capsys):
    # The data file does not exist either: the --out error comes first, before any data is read.
    assert main(["train", "--data", str(tmp_path / "missing.npy"), "--out", "/proc/kv"] + FAST) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-vae train: error: cannot create the run directory --out /proc/kv ("), err
    assert err.rstrip().endswith("); choose a folder you can write to."), err


def test_a_failed_run_is_started_afresh_with_other_settings(tmp_path):
    # A NaN stop records status "failed" and drops its backup: the advised rerun (a lower
    # --learning-rate) needs no --overwrite, unlike a killed run.
    from keras_vae.runs import Run

    out = tmp_path / "run"
    out.mkdir()
    recorded = TrainSettings(out=str(out), learning_rate=0.1)
    (out / "metrics.json").write_text(json.dumps(
        {"status": "failed", "error": "Training stopped: NaN", "settings": dataclasses.asdict(recorded)}))
    (out / "history.csv").write_text("epoch,loss\n0,nan\n")
    Run(out).check_destination(TrainSettings(out=str(out), learning_rate=0.001))
    (out / "metrics.json").write_text(json.dumps({"status": "training", "settings": dataclasses.asdict(recorded)}))
    with pytest.raises(ValueError, match=r"unfinished run with other settings \(learning_rate 0.1 there, 0.001 now\)"):
        Run(out).check_destination(TrainSettings(out=str(out), learning_rate=0.001))
