"""A run directory cannot lose a user's data: its lock, ownership rules, and clean failures (issue 19).

Each test reproduces a case of the issue: two trainings into one --out (two real processes), a
training into a folder that is not a run, a killed lock owner, a resumed run with other settings,
a broken or empty metrics.json. No command may end in a traceback, and a user's file in a folder
passed as --out is never changed without --overwrite.
"""

import csv
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from keras_vae.locking import LockHeld, OwnerLock, check_unlocked
from keras_vae.runs import LOCK_FILE, Run, RunError
from keras_vae.settings import TrainSettings

FAST = ["--epochs", "2", "--steps-per-epoch", "3", "--batch-size", "16", "--latent-dim", "2", "--no-jit"]


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, (64, 6, 6), np.uint8))
    return path


def _history_rows(out):
    with open(os.path.join(out, "history.csv"), newline="") as f:
        return list(csv.DictReader(f))


def _snapshot(folder):
    """{relative path: bytes} of every file under `folder`."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = f.read()
    return found


# The lock ------------------------------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from keras_vae.locking import OwnerLock
OwnerLock(sys.argv[1], "a test holder").acquire()
print("locked", flush=True)
time.sleep(300)
"""


def test_a_lock_names_its_owner_and_a_killed_owner_leaves_a_stale_lock_that_is_taken_over(tmp_path):
    path = tmp_path / LOCK_FILE
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)], env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld, match=rf"locked by a test holder \(pid {holder.pid} on host .+, since "):
            OwnerLock(path, "a second writer").acquire()
        with pytest.raises(LockHeld, match=rf"pid {holder.pid}"):
            check_unlocked(path)
        holder.send_signal(signal.SIGKILL)
    finally:
        holder.kill()
        holder.wait()
    assert path.exists(), "a killed owner cannot remove its lock file"
    check_unlocked(path)  # ...but the kernel released its lock: the file is stale
    lock = OwnerLock(path, "the next writer").acquire()
    assert lock.stale_owner["pid"] == holder.pid
    assert json.loads(path.read_text())["pid"] == os.getpid()
    lock.release()
    assert not path.exists()


def _train_command(data, out, *extra):
    return [sys.executable, "-m", "keras_vae", "train", "--data", str(data), "--out", str(out), *extra]


@pytest.mark.slow(reason="trains two runs in concurrent subprocesses")
def test_two_trainings_into_one_out_never_share_it(data, tmp_path):
    # Issue 19, case 1: `T --out rc & T --out rc --seed 7 & wait`. The first is stopped while it
    # holds the run directory, so the second meets its lock for certain.
    out = tmp_path / "rc"
    options = ["--epochs", "3", "--steps-per-epoch", "20", "--batch-size", "32", "--no-jit", "--latent-dim", "2"]
    first = subprocess.Popen(_train_command(data, out, *options), env=_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / LOCK_FILE).exists():
            assert first.poll() is None, first.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "the first training never took its lock"
            time.sleep(0.01)
        first.send_signal(signal.SIGSTOP)
        try:
            second = subprocess.run(_train_command(data, out, *options, "--seed", "7"), env=_env(),
                                    capture_output=True, text=True, timeout=180)
        finally:
            first.send_signal(signal.SIGCONT)
        assert first.wait(timeout=180) == 0, first.stderr.read()[-3000:]
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 2
    assert "Traceback" not in second.stderr
    assert f"locked by keras-vae train (pid {first.pid} on host" in second.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(_history_rows(out)) == metrics["epochs_completed"] == 3
    assert metrics["settings"]["seed"] == 0 and metrics["status"] == "finished"
    assert not (out / LOCK_FILE).exists()


# Ownership -----------------------------------------------------------------------------------


@pytest.mark.slow(reason="trains through the command line in subprocesses")
def test_a_folder_that_is_not_a_run_is_never_changed_without_overwrite(data, tmp_path, capsys):
    from keras_vae.cli import main

    # Issue 19, case 2: a user's history.csv in the folder passed as --out.
    userdir = tmp_path / "userdir"
    userdir.mkdir()
    (userdir / "history.csv").write_text("notes\n")
    before = _snapshot(userdir)
    assert main(["train", "--data", str(data), "--out", str(userdir)] + FAST) == 2
    err = capsys.readouterr().err
    assert "is a folder that is not a keras-vae run" in err and "--overwrite" in err
    # With --overwrite the run would still replace history.csv, which it did not write: refused too.
    assert main(["train", "--data", str(data), "--out", str(userdir), "--overwrite"] + FAST) == 2
    err = capsys.readouterr().err
    assert "history.csv" in err and "never replaces files a run did not write" in err
    assert _snapshot(userdir) == before and sorted(os.listdir(userdir)) == ["history.csv"]

    # A folder whose files do not clash: refused without --overwrite, trained into with it, files kept.
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "notes.txt").write_text("keep me\n")
    assert main(["train", "--data", str(data), "--out", str(notes)] + FAST) == 2
    assert sorted(os.listdir(notes)) == ["notes.txt"]
    capsys.readouterr()
    assert main(["train", "--data", str(data), "--out", str(notes), "--overwrite"] + FAST) == 0
    assert (notes / "notes.txt").read_text() == "keep me\n"
    assert {"model.keras", "metrics.json", "history.csv"} <= set(os.listdir(notes))
    # Now a run: --overwrite starts it afresh, removing only what the earlier training wrote.
    stamp = (notes / "model.keras").stat().st_mtime_ns
    assert main(["train", "--data", str(data), "--out", str(notes), "--overwrite", "--seed", "5"] + FAST) == 0
    assert (notes / "notes.txt").read_text() == "keep me\n"
    assert (notes / "model.keras").stat().st_mtime_ns != stamp
    assert json.loads((notes / "metrics.json").read_text())["settings"]["seed"] == 5
    assert len(_history_rows(notes)) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_an_out_that_is_a_file_is_refused(data, tmp_path, capsys):
    from keras_vae.cli import main

    target = tmp_path / "somefile"
    target.write_text("keep")
    assert main(["train", "--data", str(data), "--out", str(target)] + FAST) == 2
    assert "exists and is not a directory" in capsys.readouterr().err
    assert target.read_text() == "keep"


def _unfinished_run(root, settings, epochs_done):
    """A run directory as a training killed after `epochs_done` epochs leaves it."""
    root.mkdir()
    (root / "metrics.json").write_text(
        json.dumps({"status": "training", "settings": dataclasses.asdict(settings)})
    )
    (root / "backup").mkdir()
    with h5py.File(root / "backup" / "latest.weights.h5", "w") as f:
        f.attrs["keras_vae_completed_epochs"] = epochs_done


def test_an_unfinished_run_resumes_only_with_its_own_settings(tmp_path):
    out = tmp_path / "run"
    _unfinished_run(out, TrainSettings(out=str(out), seed=0), epochs_done=2)
    run = Run(out)
    run.check_destination(TrainSettings(out=str(out), seed=0, epochs=50))  # more epochs: still the same run
    with pytest.raises(RunError, match=r"unfinished run with other settings \(seed 0 there, 7 now\).*--overwrite"):
        run.check_destination(TrainSettings(out=str(out), seed=7))
    run.check_destination(TrainSettings(out=str(out), seed=7, overwrite=True))
    # Claiming it to start afresh removes the earlier training's files and nothing else.
    (out / "notes.txt").write_text("mine")
    with run.claim(TrainSettings(out=str(out), seed=7, overwrite=True)) as initial_epoch:
        assert initial_epoch == 0
        assert sorted(os.listdir(out)) == [LOCK_FILE, "metrics.json", "notes.txt"]
        assert json.loads((out / "metrics.json").read_text())["status"] == "training"
        with pytest.raises(LockHeld):  # a second claim while this one holds it
            with Run(out).claim(TrainSettings(out=str(out), seed=7, overwrite=True)):
                pass
    assert sorted(os.listdir(out)) == ["metrics.json", "notes.txt"]


def test_a_finished_run_is_kept_without_overwrite(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text(json.dumps({"settings": {}, "test": {}}))
    (out / "model.keras").write_bytes(b"a model")
    with pytest.raises(RunError, match="already holds a trained model.*--overwrite"):
        Run(out).check_destination(TrainSettings(out=str(out)))
    Run(out).check_destination(TrainSettings(out=str(out), overwrite=True))


# Reading a run: metrics.json named in every error -----------------------------------------------


def _run_with_metrics(root, text):
    from keras_vae.models import build_vae

    root.mkdir()
    build_vae((6, 6, 1), latent_dim=2, seed=0).save(root / "model.keras")
    (root / "metrics.json").write_text(text)
    return root


BROKEN_METRICS = {
    "invalid JSON": ("{settings: 1}", r"metrics.json is not valid JSON \(Expecting property name enclosed in double "
                                      r"quotes: line 1 column 2\)"),
    "wrong type": ('{"settings": {"dataset": 5}}', r'metrics.json, "settings": "dataset" must be a string, got 5 \(int\)'),
    "wrong value": ('{"settings": {"likelihood": "poisson"}}', r'metrics.json, "settings": Unknown likelihood'),
    "not an object": ("[1, 2]", r"metrics.json must hold a JSON object"),
    "no settings": ("{}", r'metrics.json has no "settings"'),
}


@pytest.mark.parametrize("case", sorted(BROKEN_METRICS))
def test_a_broken_metrics_json_is_named_with_its_field(tmp_path, case):
    text, message = BROKEN_METRICS[case]
    run = Run(_run_with_metrics(tmp_path / "run", text))
    with pytest.raises(RunError, match=message):
        run.settings()


@pytest.mark.parametrize("command", ["evaluate", "plot"])
@pytest.mark.parametrize("case", ["invalid JSON", "wrong type", "no settings"])
def test_commands_report_a_broken_metrics_json_without_a_traceback(tmp_path, capsys, command, case):
    # Issue 19, cases 5 and 6: evaluate named no file; plot drew 7 figures from `{}` with defaults.
    from keras_vae.cli import main

    text, message = BROKEN_METRICS[case]
    run = _run_with_metrics(tmp_path / "run", text)
    assert main([command, str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"keras-vae {command}: error: {run / 'metrics.json'}")
    assert re.search(message, err) and "Traceback" not in err
    assert sorted(os.listdir(run)) == ["metrics.json", "model.keras"]  # no figures, no evaluation.json
