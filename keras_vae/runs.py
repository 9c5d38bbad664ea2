"""A run directory of `keras-vae train`: its settings, model, data splits, ownership, and errors.

Every command that reads a run (evaluate, plot, sample, export) and `keras-vae train`,
which writes one, go through this module:

    Run(path).settings()     the run's `TrainSettings`, from metrics.json (the one parser)
    Run(path).load_model()   model.keras, loaded safely (`keras_vae.models.loading.load_model`)
    load_splits(settings)    the data splits as training saw them: images, labelled images, tables
    model_inputs(...)        held-out examples as the model saw them (binarized like the test ELBO's)
    Run(path).claim(...)     one training's exclusive ownership of the directory

Layout of a run directory:

    metrics.json         written FIRST ({"status": "training", "settings": ...}), so the directory
                         is recognisable as a run from the start; replaced by the final metrics
                         (status "finished"), or by status "failed" and the error when the training
                         cannot resume (a NaN loss)
    .keras-vae.lock      while a training writes here: its pid, host and command (keras_vae.locking)
    backup/              the state of an unfinished run (keras_vae.resume), kept until the run is
                         finished, so a run that fails after its last epoch resumes at its end
    model.keras, history.csv, samples.png, reconstructions.png, tensorboard/
    evaluation.json      written by `keras-vae evaluate`; removed when the run starts afresh

Ownership rules (`Run.check_destination`): one writer at a time (a second training is
refused with a message naming the first); an existing folder that is not a run is
trained into only with `overwrite`, and then only if no file there has a name the run
writes: a run never replaces or deletes a file it did not write. An unfinished run (status
"training") resumes only with its own settings, however far it got. With `overwrite` a run
directory starts afresh (its earlier training files and evaluation.json are removed, other
files kept).
"""

import contextlib
import dataclasses
import json
import os
import shutil

import numpy as np

from keras_vae import atomic
from keras_vae.data import (
    DataError,
    binarize_static,
    labelled_subset,
    is_table_file,
    load_tfds_images,
    load_user_images,
    load_user_table,
    tfds_class_names,
)
from keras_vae.data.sprites import SHAPES, is_sprites, load_sprite_splits
from keras_vae.locking import OwnerLock, check_unlocked
from keras_vae.models.capabilities import POSTERIOR
from keras_vae.models.loading import ModelLoadError, load_model
from keras_vae.resume import backup_epoch
from keras_vae.settings import SettingsError, TrainSettings

METRICS_FILE = "metrics.json"
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.csv"
BACKUP_DIR = "backup"
TENSORBOARD_DIR = "tensorboard"
FIGURE_FILES = ("samples.png", "reconstructions.png")
LOCK_FILE = ".keras-vae.lock"
#: The labelled subset of a semi-supervised run: its example indices in the training split.
LABELLED_FILE = "labelled.json"
# Every name `keras-vae train` writes into a run directory (other workers of a
# multi-worker run write into .worker-<index>/ and remove it at the end).
TRAINING_FILES = (METRICS_FILE, MODEL_FILE, HISTORY_FILE, BACKUP_DIR, TENSORBOARD_DIR, LABELLED_FILE, *FIGURE_FILES)
#: The evaluation `keras-vae evaluate` writes into a run (keras_vae.evaluation).
EVALUATION_FILE = "evaluation.json"
# Files other commands derive from a run's model: a run that starts afresh removes them with the
# model they describe (not training files: a folder holding them is no clash for --overwrite).
DERIVED_FILES = (EVALUATION_FILE,)
WORKER_PREFIX = ".worker-"
STATUS_TRAINING, STATUS_FINISHED = "training", "finished"
#: A training that stopped and cannot resume (its backup would replay the failure): started afresh by any rerun.
STATUS_FAILED = "failed"
# Settings every run written by `keras-vae train` records (from its first version on): without
# them the run's data, and how its model saw it, are unknown, and defaults would be guesses.
RECORDED_SETTINGS = ("data", "dataset", "binarize", "seed", "validation_fraction")


class RunError(ValueError):
    """A run directory that cannot be used as asked; the message names the file (and field) and the fix."""


class RunNotFoundError(RunError, FileNotFoundError):
    """The run directory, or a file it needs (metrics.json, model.keras), does not exist."""


class RunModelError(RunError, ModelLoadError):
    """The run's model.keras is corrupt or unsafe (see `keras_vae.models.loading.load_model`)."""


@dataclasses.dataclass(frozen=True)
class Split:
    """One split of a run's data, as training loaded it.

    Args:
        examples: float32 array: images (N, H, W, C) in [0, 1] (grey values, not binarized),
            or table rows (N, F).
        labels: int64 array (N,) or None.
        class_names: list of str or None.
    """

    examples: np.ndarray
    labels: np.ndarray = None
    class_names: list = None


def is_table_run(settings):
    """True when the run's data is a table: a .csv file or a 2-D .npy array."""
    return bool(settings.data) and is_table_file(settings.data)


def _table_splits(settings):
    """Returns {"train", "test"} Splits of a table, after the checks a table needs (DataError)."""
    loaded = load_user_table(settings.data, validation_fraction=settings.validation_fraction, seed=settings.seed)
    train = loaded["train"][0]
    if settings.likelihood in ("bernoulli", "continuous_bernoulli"):
        low, high = float(train.min()), float(train.max())
        if low < 0 or high > 1:
            raise DataError(
                f"{settings.data}: features lie in [{low:g}, {high:g}], but a {settings.likelihood} likelihood "
                "needs values in [0, 1]; use --likelihood gaussian for unbounded features."
            )
    if settings.binarize != "none":
        raise DataError(
            f"{settings.data} is a table; binarize={settings.binarize!r} is for images. Pass --binarize none "
            "(the default with --likelihood gaussian)."
        )
    return {name: Split(loaded[name][0]) for name in ("train", "test")}


def load_splits(settings, names=("train", "test"), max_examples=None):
    """Returns `{name: Split}`: the run's data splits as training loaded them.

    TFDS datasets have any split TFDS knows ("train", "test", "train[:10%]"); the user's
    own images and tables have "train" and "test" (the held-out share, split with the
    run's seed and validation fraction).

    Args:
        settings: the run's `TrainSettings`.
        names: sequence of str, default ("train", "test").
        max_examples: int or None, default None. Keep the first N examples of each split.

    Raises:
        DataError: the data cannot be loaded or does not suit the settings.
        RunError: a split the run's data does not have.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.zeros((10, 4, 4), np.uint8))
    >>> splits = load_splits(TrainSettings(data=path, validation_fraction=0.2))
    >>> splits["train"].examples.shape, splits["test"].examples.shape, splits["test"].labels
    ((8, 4, 4, 1), (2, 4, 4, 1), None)
    """
    if settings.m1_run:
        return _m1_splits(settings, names, max_examples)
    if settings.data:
        unknown = [name for name in names if name not in ("train", "test")]
        if unknown:
            raise RunError(
                f"a run on the user's own data ({settings.data}) has the splits 'train' and 'test', not {unknown[0]!r}."
            )
        if is_table_run(settings):
            splits = _table_splits(settings)
        else:
            loaded = load_user_images(settings.data, validation_fraction=settings.validation_fraction, seed=settings.seed)
            splits = {name: Split(*loaded[name], loaded["class_names"]) for name in ("train", "test")}
        splits = {name: splits[name] for name in names}
    elif is_sprites(settings.dataset):
        unknown = [name for name in names if name not in ("train", "test")]
        if unknown:
            raise RunError(f"the {settings.dataset} set has the splits 'train' and 'test', not {unknown[0]!r}.")
        loaded = load_sprite_splits(settings.dataset, settings.validation_fraction, settings.seed, settings.data_dir)
        # Binary images of 0 and 1 (not 0..255); the shape is the class label, all five factors are
        # in `sprite_factors`.
        splits = {
            name: Split(loaded[name][0].astype(np.float32), loaded[name][1][:, 0].copy(), list(SHAPES))
            for name in names
        }
    else:
        class_names = tfds_class_names(settings.dataset)
        splits = {}
        for name in names:
            # TFDS reads only the first N examples of a plain split name.
            tfds_split = name if max_examples is None or "[" in name else f"{name}[:{int(max_examples)}]"
            images, labels = load_tfds_images(settings.dataset, tfds_split, data_dir=settings.data_dir)
            splits[name] = Split(images, labels, class_names)
    if max_examples is not None:
        n = int(max_examples)
        splits = {
            name: dataclasses.replace(
                split, examples=split.examples[:n], labels=None if split.labels is None else split.labels[:n]
            )
            for name, split in splits.items()
        }
    return splits


def _m1_splits(settings, names, max_examples):
    """The splits of an M1+M2 run: the M1 run's data mapped to its posterior means z = E[q(z|x)].

    Kingma et al. (2014) train M2 on the latent code of a VAE trained first (M1). The grey
    images (the expectation of a binarized image) go through M1's `embed`, so the
    features are deterministic: training, evaluation and export of the run see the same ones.
    """
    m1 = Run(settings.m1_run)
    m1_settings = m1.settings()
    model = m1.load_model()
    if not model.can(POSTERIOR) or model.takes_condition:
        raise RunError(
            f"--m1-run {settings.m1_run} holds a {type(model).__name__}; M1 must be an unconditional model with a "
            "posterior q(z|x), e.g. a run of --model vae."
        )
    if m1_settings.m1_run:
        raise RunError(f"--m1-run {settings.m1_run} is itself an M1+M2 run; give the run of the VAE (M1).")
    splits = load_splits(m1_settings, names, max_examples)
    mapped = {}
    for name, split in splits.items():
        codes = np.concatenate(
            [np.asarray(model.embed(split.examples[i : i + 1000])) for i in range(0, len(split.examples), 1000)]
        )
        mapped[name] = Split(codes.astype(np.float32), split.labels, split.class_names)
    return mapped


def model_inputs(settings, examples):
    """Returns held-out examples as the run's model saw them: binarized runs get one fixed static draw.

    The draw (seed = run seed + 1) is the one the run's test ELBO used, so evaluations and
    figures of a run agree with its metrics.

    Example:
    >>> x = np.full((2, 3, 3, 1), 0.5, "float32")
    >>> sorted(np.unique(model_inputs(TrainSettings(binarize="static"), x)).tolist())
    [0.0, 1.0]
    """
    if settings.binarize == "none":
        return examples
    return binarize_static(examples, seed=settings.seed + 1)


def count_classes(*labels):
    """Returns the number of classes of integer labels 0..K-1 (at least 2), from every array given.

    Example:
    >>> count_classes(np.array([0, 3, 1]), np.array([4]))
    5
    """
    top = max(int(np.max(y)) for y in labels if y is not None and len(y))
    return max(top + 1, 2)


def labelled_indices(settings, train, num_classes):
    """Returns the indices of a semi-supervised run's labelled training examples (a balanced, seeded subset).

    A function of the training labels and the settings (`labels_per_class` or
    `labelled_examples`, `seed`) alone, so training, a resumed training, evaluation and
    export all get the same subset; training also records it (`Run.record_labelled`).

    Args:
        settings: the run's `TrainSettings`.
        train: the training `Split` (with labels).
        num_classes: int.
    """
    return labelled_subset(
        train.labels, per_class=settings.labels_per_class, total=settings.labelled_examples,
        num_classes=num_classes, seed=settings.seed,
    )


class Run:
    """The run directory at `path`: reading a finished run, or owning one while training writes it.

    Args:
        path: str or os.PathLike.

    Example:
    >>> Run("/nonexistent/run").settings()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    keras_vae.runs.RunNotFoundError: run directory /nonexistent/run not found ...
    """

    def __init__(self, path):
        self.path = os.fspath(path)

    def file(self, name):
        """Returns the path of `name` inside the run directory."""
        return os.path.join(self.path, name)

    # Reading a run --------------------------------------------------------------------

    def _require_directory(self):
        if not os.path.isdir(self.path):
            raise RunNotFoundError(
                f"run directory {self.path} not found (it does not exist or is no directory); "
                "pass the --out directory of keras-vae train."
            )

    def read_metrics(self):
        """Returns the dict in metrics.json; RunError naming the file when it is missing or unreadable."""
        self._require_directory()
        path = self.file(METRICS_FILE)
        if not os.path.isfile(path):
            raise RunNotFoundError(f"{path} not found; is {self.path} a run written by `keras-vae train`?")
        try:
            with open(path, encoding="utf-8") as f:
                metrics = json.load(f)
        except json.JSONDecodeError as error:
            raise RunError(
                f"{path} is not valid JSON ({error.msg}: line {error.lineno} column {error.colno}); it was cut "
                "short or edited. Restore it from a copy, or train the run again."
            ) from error
        except (OSError, UnicodeDecodeError) as error:
            raise RunError(f"cannot read {path}: {error}") from error
        if not isinstance(metrics, dict):
            raise RunError(f"{path} must hold a JSON object, but holds a {type(metrics).__name__}.")
        return metrics

    def settings(self):
        """Returns the run's `TrainSettings`, read from metrics.json and type-checked.

        Raises:
            RunNotFoundError: no run directory or no metrics.json.
            RunError: metrics.json is not valid JSON, has no "settings", its settings lack one of
                `RECORDED_SETTINGS`, or a setting has the wrong type or value (the message names the
                file and the field).
        """
        metrics = self.read_metrics()
        path = self.file(METRICS_FILE)
        if "settings" not in metrics:
            raise RunError(
                f'{path} has no "settings", so the run\'s data and model options are unknown; it was not '
                "written by `keras-vae train` or was edited. Restore it, or train the run again."
            )
        try:
            settings = TrainSettings.from_dict(metrics["settings"], where=f'{path}, "settings"')
        except SettingsError as error:
            raise RunError(f"{error} Fix that field, or train the run again.") from error
        missing = [name for name in RECORDED_SETTINGS if name not in metrics["settings"]]
        if missing:
            names = ", ".join(f'"{name}"' for name in missing[:-1])
            names = f'{names} and "{missing[-1]}"' if names else f'"{missing[-1]}"'
            raise RunError(
                f'{path}, "settings" lacks {names}, which every run written by `keras-vae train` records, so the '
                "run's data is unknown; it was edited or not written by `keras-vae train`. Restore it, or train the "
                "run again."
            )
        return settings

    def load_model(self):
        """Returns the run's trained model (model.keras, loaded in Keras' safe mode).

        Raises:
            RunNotFoundError: no run directory, no model.keras in it, or a run that has not finished
                training (also a FileNotFoundError).
            RunModelError: model.keras is corrupt or unsafe (also a ModelLoadError).
        """
        self._require_directory()
        path = self.file(MODEL_FILE)
        # An unfinished run's model.keras (a training that failed after saving it) is no finished model.
        if self._status() == STATUS_TRAINING:
            where = "belongs to a run that" if os.path.isfile(path) else f"not found: the run in {self.path}"
            raise RunNotFoundError(
                f"{path} {where} has not finished training ({METRICS_FILE} says status "
                f"{STATUS_TRAINING!r}); wait for it, or re-run its train command to resume it."
            )
        if not os.path.isfile(path):
            raise RunNotFoundError(f"{path} not found: no {MODEL_FILE} in {self.path}; train first with keras-vae train")
        try:
            return load_model(path)
        except ModelLoadError as error:
            raise RunModelError(str(error)) from error

    def split(self, name="test", max_examples=None):
        """Returns the `Split` `name` of the run's data, as training loaded it (see `load_splits`)."""
        return load_splits(self.settings(), (name,), max_examples)[name]

    def _status(self):
        """"training", "finished", or None when metrics.json is missing or unreadable."""
        try:
            metrics = self.read_metrics()
        except RunError:
            return None
        return metrics.get("status", STATUS_FINISHED if "test" in metrics else None)

    def _recorded_settings(self):
        """The settings recorded in metrics.json, or None when there are none that load."""
        try:
            return self.settings()
        except RunError:
            return None

    def is_run(self):
        """True when the directory is recognisably a run: metrics.json with settings, or a backup."""
        metrics_path = self.file(METRICS_FILE)
        if os.path.isfile(metrics_path):
            try:
                return isinstance(self.read_metrics().get("settings"), dict)
            except RunError:
                return False
        # Runs killed before this module wrote metrics.json first had only their backup.
        return os.path.isdir(self.file(BACKUP_DIR))

    # Owning a run while training writes it ---------------------------------------------

    def _user_entries(self):
        """Entries of the directory that a training did not necessarily write (lock and worker copies aside)."""
        return sorted(
            name for name in os.listdir(self.path) if name != LOCK_FILE and not name.startswith(WORKER_PREFIX)
        )

    def check_destination(self, settings):
        """Raises unless `keras-vae train` with `settings` may write here; leaves nothing behind.

        Raises:
            LockHeld: another training holds the directory (a FileExistsError naming it).
            RunError: the path is a file, or a directory that cannot be created or written; the
                directory holds a trained model (without `settings.overwrite`); it is a non-empty
                folder that is not a run (without `overwrite`, or with files whose names the run
                writes); or it holds an unfinished run with other settings (without `overwrite`).
        """
        if os.path.isdir(self.path):
            check_unlocked(self.file(LOCK_FILE))
        self._check_contents(settings)
        self._check_creatable()

    def _cannot_create(self, reason):
        return RunError(
            f"cannot create the run directory --out {self.path} ({reason}); choose a folder you can write to."
        )

    def _check_creatable(self):
        # Permissions cannot tell (root may "write" to /proc, which still refuses new entries): try
        # to create the missing folders, then remove them again, deepest first.
        if os.path.isdir(self.path):
            return
        path = os.path.abspath(self.path)
        top = path
        while not os.path.lexists(os.path.dirname(top)):
            top = os.path.dirname(top)
        self._make_directory()
        while True:
            try:
                os.rmdir(path)
            except OSError:
                return  # another writer's files appeared in it meanwhile: theirs now
            if path == top:
                return
            path = os.path.dirname(path)

    def _make_directory(self):
        try:
            os.makedirs(self.path, exist_ok=True)
        except OSError as error:
            raise self._cannot_create(error) from error

    def _check_contents(self, settings):
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise RunError(f"--out {self.path} exists and is not a directory; choose another --out.")
        if not os.path.isdir(self.path) or not self._user_entries():
            return
        if not self.is_run():
            entries = self._user_entries()
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            try:
                self.settings()
                why = f"no {METRICS_FILE} with run settings"
            except RunError as error:  # say what is wrong with a metrics.json that is there
                why = str(error) if os.path.exists(self.file(METRICS_FILE)) else f"no {METRICS_FILE} with run settings"
            if not settings.overwrite:
                raise RunError(
                    f"--out {self.path} is a folder that is not a keras-vae run (it holds {shown}; {why}). Choose a "
                    "new or empty folder, or pass --overwrite to train into it anyway (files the run did not write "
                    "are never replaced or deleted)."
                )
            clashes = [name for name in TRAINING_FILES if os.path.lexists(self.file(name))]
            if clashes:
                raise RunError(
                    f"--out {self.path} is not a keras-vae run, yet it holds {', '.join(clashes)}, which training "
                    "would replace; --overwrite never replaces files a run did not write. Move them away, or "
                    "choose another --out."
                )
            return
        if settings.overwrite:
            return
        # A model.keras beside status "training" is a run that failed after saving it: unfinished.
        unfinished = self._status() == STATUS_TRAINING
        if os.path.exists(self.file(MODEL_FILE)) and not unfinished:
            raise RunError(
                f"{self.path} already holds a trained model ({MODEL_FILE}); choose another --out or pass --overwrite."
            )
        # However far an unfinished run got (a history row, a backup, a saved model), other settings
        # would discard it: the answer must not depend on when it was killed.
        if backup_epoch(self.file(BACKUP_DIR)) or unfinished:
            recorded = self._recorded_settings()
            changed = [] if recorded is None else settings.differences(recorded)
            if changed:
                details = ", ".join(
                    f"{name} {getattr(recorded, name)!r} there, {getattr(settings, name)!r} now" for name in changed
                )
                raise RunError(
                    f"{self.path} holds an unfinished run with other settings ({details}). Re-run its own command "
                    "to resume it, or pass --overwrite to start afresh."
                )

    @contextlib.contextmanager
    def claim(self, settings):
        """Owns the directory for one training; yields the number of finished epochs to resume from.

        Creates the directory, takes its lock (released on exit, and by the kernel if the
        process dies), repeats `check_destination` under the lock, then either keeps an
        unfinished run's backup to resume, or removes an earlier run's training files and
        `DERIVED_FILES` (nothing else) to start afresh, and writes metrics.json with the settings and
        status "training" before anything else.

        Args:
            settings: the `TrainSettings` of the training.

        Raises:
            as `check_destination`.

        Usage, as `keras_vae.training.train` holds a run while it writes it:

            with Run(out).claim(settings) as initial_epoch:
                model.fit(..., initial_epoch=initial_epoch)
        """
        self._make_directory()
        with OwnerLock(self.file(LOCK_FILE), "keras-vae train"):
            self._check_contents(settings)  # the directory may have changed since the first check
            initial_epoch = 0 if settings.overwrite else backup_epoch(self.file(BACKUP_DIR))
            if not initial_epoch and self.is_run():
                self._remove_training_files()
            atomic.write_json(
                self.file(METRICS_FILE), {"status": STATUS_TRAINING, "settings": dataclasses.asdict(settings)}
            )
            yield initial_epoch

    def _remove_training_files(self):
        for name in TRAINING_FILES + DERIVED_FILES:
            path = self.file(name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.remove(path)

    def record_labelled(self, indices, labels, resumed=False):
        """Writes labelled.json (the labelled subset's indices and labels); on resume checks it is unchanged.

        Raises:
            RunError: a resumed run whose data now give another subset (the data changed).
        """
        record = {"indices": [int(i) for i in indices], "labels": [int(labels[i]) for i in indices]}
        path = self.file(LABELLED_FILE)
        if resumed and os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                if json.load(f) != record:
                    raise RunError(
                        f"{path} records another labelled subset than the run's data and settings give now: the "
                        "training data changed since the run started. Restore it, or pass --overwrite to start afresh."
                    )
        atomic.write_json(path, record)

    def labelled(self):
        """Returns the recorded labelled subset `(indices, labels)` of a semi-supervised run (int64 arrays)."""
        path = self.file(LABELLED_FILE)
        if not os.path.isfile(path):
            raise RunNotFoundError(f"{path} not found: {self.path} is no semi-supervised run (--model m2).")
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        return np.asarray(record["indices"], np.int64), np.asarray(record["labels"], np.int64)

    def record_failure(self, settings, reason):
        """Marks a training that cannot resume as failed: removes its backup, then records `reason`.

        Its backup would replay the failure (NaN weights), so the run is neither finished nor
        resumable; the next training into the directory, with any settings, starts it afresh.

        Args:
            settings: the run's `TrainSettings`.
            reason: str. What failed and what to change.
        """
        shutil.rmtree(self.file(BACKUP_DIR), ignore_errors=True)
        atomic.write_json(
            self.file(METRICS_FILE),
            {"status": STATUS_FAILED, "error": reason, "settings": dataclasses.asdict(settings)},
        )

    def write_metrics(self, metrics):
        """Writes the final metrics.json (atomically), marking the run finished, then removes its backup.

        The backup outlives the last epoch so that a run failing before this point (saving the
        model, drawing its figures) is resumed by its own command instead of being lost.
        """
        atomic.write_json(self.file(METRICS_FILE), {**metrics, "status": STATUS_FINISHED})
        shutil.rmtree(self.file(BACKUP_DIR), ignore_errors=True)


__all__ = [
    "BACKUP_DIR",
    "DERIVED_FILES",
    "EVALUATION_FILE",
    "HISTORY_FILE",
    "LABELLED_FILE",
    "LOCK_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "RECORDED_SETTINGS",
    "Run",
    "RunError",
    "RunModelError",
    "RunNotFoundError",
    "Split",
    "TRAINING_FILES",
    "count_classes",
    "is_table_run",
    "labelled_indices",
    "load_splits",
    "model_inputs",
]
