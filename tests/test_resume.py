"""Resume after SIGKILL: `keras-vae train` re-run with the same command continues the killed run.

An uninterrupted run and a run killed in the middle of epoch 3 and re-run must end with the
same history length and the same weights, for every kind of data training takes: images,
labelled images (a conditional VAE, fed (x, labels) batches) and tables. With --deterministic
(op determinism) and epochs that are functions of (seed, epoch) (keras_vae.data.pipeline), the
backup holds weights, optimizer slots and the Sampling layer's seed state, so the resumed run
replays epoch 3 exactly: the weights agree bitwise (asserted with atol=0).
"""

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import saved_weights

EPOCHS = 4
STEPS = 150


# Kind of data -> the options that train on it.
KINDS = {"images": [], "labelled": ["--model", "cvae"], "table": ["--likelihood", "gaussian"]}


def _command(data, out, options=()):
    return [
        sys.executable, "-m", "keras_vae", "train", "--data", str(data), "--epochs", str(EPOCHS),
        "--steps-per-epoch", str(STEPS), "--batch-size", "16", "--latent-dim", "2", "--seed", "3",
        "--deterministic", "--no-jit", "--out", str(out), *options,
    ]


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    return env


def _rows(out):
    path = os.path.join(out, "history.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """{kind: data file}: 160 grey 6x6 images; the same with labels 0..2 (.npz); a table of 5 features."""
    root = tmp_path_factory.mktemp("resume")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (160, 6, 6), np.uint8)
    paths = {"images": root / "images.npy", "labelled": root / "labelled.npz", "table": root / "table.npy"}
    np.save(paths["images"], images)
    np.savez(paths["labelled"], images=images, labels=np.arange(160) % 3)
    np.save(paths["table"], rng.normal(size=(160, 5)).astype("float32"))
    return paths


@pytest.mark.slow(reason="kills a training subprocess with SIGKILL and reruns it")
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sigkill_mid_epoch_then_rerun_matches_uninterrupted_run(data, tmp_path, kind):
    from keras_vae.resume import backup_epoch

    def _command_for(out):
        return _command(data[kind], out, KINDS[kind])

    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    first = subprocess.Popen(_command_for(reference), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    killed = subprocess.Popen(_command_for(resumed), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    backup = os.path.join(resumed, "backup")
    deadline = time.monotonic() + 90
    try:
        # Two epochs logged and backed up: epoch 3 (index 2) is in progress.
        while not (len(_rows(resumed)) == 2 and backup_epoch(backup) == 2):
            assert killed.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run never reached epoch 3"
            time.sleep(0.01)
        killed.send_signal(signal.SIGKILL)
    finally:
        killed.kill()
        killed.wait()
    assert killed.returncode == -signal.SIGKILL
    assert len(_rows(resumed)) == 2, "killed too late: epoch 3 had already finished"
    assert not os.path.exists(os.path.join(resumed, "model.keras"))

    rerun = subprocess.run(_command_for(resumed), env=_env(), capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert first.wait(timeout=120) == 0, first.stderr.read()[-3000:]

    rows = _rows(resumed)
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    assert not os.path.exists(backup), "the backup must be removed when training ends"
    assert not os.path.exists(os.path.join(resumed, ".keras-vae.lock")), "the killed run's stale lock is released"
    reference_rows = _rows(reference)
    for a, b in zip(rows, reference_rows):
        assert float(a["loss"]) == float(b["loss"])
    resumed_weights, reference_weights = saved_weights(resumed), saved_weights(reference)
    assert sorted(resumed_weights) == sorted(reference_weights)
    for name, value in reference_weights.items():
        np.testing.assert_array_equal(resumed_weights[name], value, err_msg=name)
    import json

    metrics = json.loads(open(os.path.join(resumed, "metrics.json")).read())
    assert metrics["epochs_completed"] == EPOCHS and metrics["resumed_from_epoch"] == 2
    assert os.listdir(os.path.join(resumed, "tensorboard"))


def test_truncate_history_drops_rows_of_unsaved_epochs(tmp_path):
    from keras_vae.resume import truncate_history

    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n0,1.0\n1,0.5\n2,0.25\n")
    truncate_history(str(path), 2)
    assert path.read_text() == "epoch,loss\n0,1.0\n1,0.5\n"


def test_unreadable_backup_is_refused_with_a_clear_message(tmp_path):
    from keras_vae.resume import WEIGHTS_FILE, backup_epoch

    (tmp_path / WEIGHTS_FILE).write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="unreadable"):
        backup_epoch(str(tmp_path))
