"""Resuming a killed `keras-vae train` run: an atomic BackupAndRestore and its helpers.

`keras.callbacks.BackupAndRestore` writes the weights and then, separately, a JSON file
with the epoch: a SIGKILL between the two writes leaves weights of one epoch labelled
with another. `AtomicBackupAndRestore` stores the epoch inside the weights file (an HDF5
attribute) and renames a complete temporary file into place, so the backup is always
one consistent (weights, optimizer state, sampling-noise state, epoch) snapshot.
"""

import csv
import io
import os
import shutil

import h5py
import keras

from keras_vae import atomic

WEIGHTS_FILE = "latest.weights.h5"
EPOCH_ATTRIBUTE = "keras_vae_completed_epochs"


def backup_epoch(backup_dir):
    """Returns the number of completed epochs stored in `backup_dir`, 0 when there is no backup."""
    path = os.path.join(backup_dir, WEIGHTS_FILE)
    if not os.path.isfile(path):
        return 0
    try:
        with h5py.File(path, "r") as f:
            return int(f.attrs[EPOCH_ATTRIBUTE])
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(
            f"the backup {path} of an interrupted run is unreadable ({error}); delete {backup_dir} to "
            "start the run afresh."
        ) from error


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose checkpoint (weights + epoch) is written atomically.

    Saves at the end of every epoch (a kill loses at most the epoch in progress) and, with
    `delete_at_end`, deletes `backup_dir` when `fit` ends normally.

    Args:
        backup_dir: str. Directory of the backup.
        delete_at_end: bool, default True. False keeps the backup of the last epoch for the
            caller to remove once its own work after `fit` is done (`keras_vae.runs.Run.write_metrics`):
            a failure in between then resumes at the end of training instead of losing it.
    """

    def __init__(self, backup_dir, delete_at_end=True):
        super().__init__(backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=delete_at_end)

    def _load_model(self):
        epochs = backup_epoch(self.backup_dir)
        if not epochs:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(os.path.join(self.backup_dir, WEIGHTS_FILE))
        self.model._initial_epoch = epochs
        self._current_epoch = epochs

    def on_train_begin(self, logs=None):
        if self.model.built:
            self._load_model()

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        path = os.path.join(self.backup_dir, WEIGHTS_FILE)
        tmp = os.path.join(self.backup_dir, f".tmp-{os.getpid()}.weights.h5")
        try:
            self.model.save_weights(tmp, overwrite=True)
            with h5py.File(tmp, "a") as f:
                f.attrs[EPOCH_ATTRIBUTE] = int(self._current_epoch)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        # Informational only (the epoch that counts is the attribute above).
        atomic.write_json(os.path.join(self.backup_dir, "training_metadata.json"), {"epoch": self._current_epoch})

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir, ignore_errors=True)


def truncate_history(path, epochs):
    """Keeps the header and the first `epochs` rows of a CSVLogger file (atomically).

    A run killed after CSVLogger wrote an epoch's row but before the backup of that
    epoch would otherwise repeat the row on resume.
    """
    if not os.path.isfile(path):
        return
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if len(rows) <= epochs + 1:
        return
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows[: epochs + 1])
    atomic.write_bytes(path, out.getvalue().encode("utf-8"))


__all__ = ["AtomicBackupAndRestore", "backup_epoch", "truncate_history"]
