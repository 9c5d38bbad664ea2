"""Image datasets through TensorFlow Datasets, with Fashion-MNIST prepared offline."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import threading
from pathlib import Path

import numpy as np

from keras_vae import atomic
from keras_vae.data.validation import DataError, validate_images

DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

# Original gzip MTIMEs of the Fashion-MNIST release; Debian's repack changed them,
# and they are part of the bytes TFDS's SHA-256 checksums cover.
_FASHION_MNIST_MTIMES = {
    "train-images-idx3-ubyte.gz": 0x59A7E9DE,
    "train-labels-idx1-ubyte.gz": 0x59A7E9DE,
    "t10k-images-idx3-ubyte.gz": 0x59A7E9F3,
    "t10k-labels-idx1-ubyte.gz": 0x59A7E9F3,
}
_FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 0x02, 0x04, 0x08, 0x10

# Data dirs (resolved) whose fashion_mnist is known prepared in this process, so
# repeated loads skip the builder and checksum work.
_PREPARED: set[str] = set()
_PREPARE_LOCK = threading.Lock()

_LOG = logging.getLogger(__name__)


class _LineLogger(io.TextIOBase):
    """A text stream that passes each complete line written to it to a logger at INFO level.

    Args:
        logger (logging.Logger): where the lines go.
    """

    def __init__(self, logger):
        super().__init__()
        self._logger = logger
        self._pending = ""

    def writable(self):
        return True

    def write(self, text):
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.strip():
                self._logger.info(line)
        return len(text)

    def finish(self):
        """Logs a last line that ended without a newline."""
        if self._pending.strip():
            self._logger.info(self._pending)
        self._pending = ""


@contextlib.contextmanager
def _tfds_prints_to_log():
    # TFDS announces a preparation with print() ("Downloading and preparing dataset ...",
    # "Dataset ... downloaded and prepared to ..."), deliberately bypassing logging. A loader
    # should not write into its caller's stdout (it breaks doctests, notebooks' clean output
    # and tools that parse stdout), so those lines go to this module's logger instead. The
    # swap of sys.stdout is process-wide: other threads' prints in that window are logged too.
    stream = _LineLogger(_LOG)
    try:
        with contextlib.redirect_stdout(stream):
            yield
    finally:
        stream.finish()


@contextlib.contextmanager
def _interprocess_lock(path: Path):
    # Two processes (e.g. pytest-xdist workers, parallel training runs) preparing the
    # same data dir at once would both spend the ~10 s and race on TFDS's final rename.
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Not on POSIX: fall back to TFDS's own atomic rename.
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tfds():
    # Imported lazily: TFDS pulls in TensorFlow, which the file loaders never need.
    import tensorflow_datasets as tfds

    return tfds


def _resolve_data_dir(name: str, data_dir) -> Path:
    # Ask TFDS rather than reading TFDS_DATA_DIR ourselves: with data_dir=None it
    # also looks in registered data dirs and picks the one holding the dataset.
    builder = _tfds().builder(name, data_dir=None if data_dir is None else os.fspath(data_dir))
    return Path(builder.data_dir_root)


def fashion_mnist_checksums_path() -> Path:
    """Path of the url_checksums file that TFDS registers for fashion_mnist.

    Returns:
        pathlib.Path: e.g. `.../site-packages/tensorflow_datasets/url_checksums/fashion_mnist.txt`.

    Example:
        >>> fashion_mnist_checksums_path().name
        'fashion_mnist.txt'
    """
    tfds = _tfds()
    path = getattr(tfds.builder_cls("fashion_mnist"), "_checksums_path", None)
    if path is None or not Path(os.fspath(path)).is_file():
        path = Path(tfds.__file__).parent / "url_checksums" / "fashion_mnist.txt"
    return Path(os.fspath(path))


def fashion_mnist_checksums() -> dict[str, str]:
    """SHA-256 of each Fashion-MNIST file, as TFDS registers them, keyed by file name.

    Returns:
        dict[str, str]: {"train-images-idx3-ubyte.gz": "3aede38d...", ...}.

    Example:
        >>> sorted(fashion_mnist_checksums())[0]
        't10k-images-idx3-ubyte.gz'
    """
    sums = {}
    # Format per line: url <TAB> size <TAB> sha256 [<TAB> filename].
    for line in fashion_mnist_checksums_path().read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3:
            filename = fields[3] if len(fields) > 3 else fields[0].rsplit("/", 1)[-1]
            sums[filename] = fields[2]
    missing = set(_FASHION_MNIST_MTIMES) - set(sums)
    if missing:
        raise DataError(
            f"TFDS's checksum file {fashion_mnist_checksums_path()} lacks {sorted(missing)}; "
            "this tensorflow-datasets version is not supported, use 4.9.x."
        )
    return sums


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rebuild_gzip(debian_bytes: bytes, original_name: str, mtime: int) -> bytes:
    """Give a Debian-repacked gzip file the header of the original release."""
    if len(debian_bytes) < 18 or debian_bytes[:3] != b"\x1f\x8b\x08":
        raise DataError("not a gzip (deflate) file")
    flags = debian_bytes[3]
    pos = 10
    # Skip every optional header field the source may carry; the rebuilt header
    # has exactly one (FNAME), like the originals.
    if flags & _FEXTRA:
        pos += 2 + int.from_bytes(debian_bytes[pos : pos + 2], "little")
    if flags & _FNAME:
        pos = debian_bytes.index(b"\x00", pos) + 1
    if flags & _FCOMMENT:
        pos = debian_bytes.index(b"\x00", pos) + 1
    if flags & _FHCRC:
        pos += 2
    header = (
        b"\x1f\x8b\x08"
        + bytes([_FNAME])
        + mtime.to_bytes(4, "little")
        + b"\x00"  # XFL
        + b"\x03"  # OS = Unix
        + original_name.encode("ascii")
        + b"\x00"
    )
    return header + debian_bytes[pos:]


def _not_found_error(source_dir: Path, manual_dir: Path, missing) -> DataError:
    return DataError(
        f"Fashion-MNIST not found: no prepared copy in the TFDS data dir and "
        f"{', '.join(sorted(missing))} missing from {source_dir}. This machine cannot "
        "download it; install it with `apt-get install -y dataset-fashion-mnist` (Debian) "
        f"or put the four original IDX .gz files in {manual_dir}."
    )


def prepare_offline_fashion_mnist(data_dir=None, source_dir=DEBIAN_FASHION_MNIST_DIR):
    """Put byte-exact original Fashion-MNIST files where TFDS reads manual downloads.

    Does nothing but return the manual dir when TFDS has already prepared fashion_mnist
    in `data_dir`. Otherwise each file in `<data_dir>/downloads/manual/fashion_mnist/`
    that is missing or fails TFDS's SHA-256 is rebuilt from Debian's copy in
    `source_dir` (same compressed stream, original gzip header) and checked again.

    Args:
        data_dir (str | os.PathLike | None, default None): TFDS data dir; None means
            TFDS's default (TFDS_DATA_DIR or ~/tensorflow_datasets).
        source_dir (str | os.PathLike, default "/usr/share/datasets/fashion-mnist"):
            where Debian's `dataset-fashion-mnist` package installs the four .gz files.

    Returns:
        pathlib.Path: the manual dir, to pass as `DownloadConfig(manual_dir=...)`.

    Raises:
        DataError: neither a prepared copy nor the source files exist, or a rebuilt
            file does not match TFDS's checksum.

    Example:
        >>> import tempfile
        >>> manual_dir = prepare_offline_fashion_mnist(tempfile.mkdtemp())
        >>> sorted(p.name for p in manual_dir.iterdir())[:2]
        ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']
        >>> # then: tfds.load("fashion_mnist", data_dir=..., download_and_prepare_kwargs=
        >>> #     {"download_config": tfds.download.DownloadConfig(manual_dir=manual_dir)})
    """
    root = _resolve_data_dir("fashion_mnist", data_dir)
    # Own subdirectory: MNIST's files have the same four names.
    manual_dir = root / "downloads" / "manual" / "fashion_mnist"
    key = os.fspath(root.resolve())
    with _PREPARE_LOCK:
        if key in _PREPARED:
            return manual_dir
        if _tfds().builder("fashion_mnist", data_dir=os.fspath(root)).is_prepared():
            _PREPARED.add(key)
            return manual_dir

        source = Path(source_dir)
        expected = fashion_mnist_checksums()
        todo = [
            name
            for name in _FASHION_MNIST_MTIMES
            if not (manual_dir / name).is_file()
            or _sha256((manual_dir / name).read_bytes()) != expected[name]
        ]
        missing = [name for name in todo if not (source / name).is_file()]
        if missing:
            raise _not_found_error(source, manual_dir, missing)
        for name in todo:
            src = source / name
            original_name, mtime = name[: -len(".gz")], _FASHION_MNIST_MTIMES[name]
            try:
                rebuilt = _rebuild_gzip(src.read_bytes(), original_name, mtime)
            except (DataError, ValueError) as err:
                raise DataError(
                    f"{src} is not a usable gzip file ({err}); reinstall it with "
                    "`apt-get install --reinstall -y dataset-fashion-mnist`."
                ) from err
            got = _sha256(rebuilt)
            if got != expected[name]:
                raise DataError(
                    f"rebuilt {name} from {src} has SHA-256 {got}, but TFDS expects "
                    f"{expected[name]} ({fashion_mnist_checksums_path()}); the source file "
                    "is not the original Fashion-MNIST release. Put the four original IDX "
                    f".gz files in {manual_dir} instead."
                )
            manual_dir.mkdir(parents=True, exist_ok=True)
            atomic.write_bytes(manual_dir / name, rebuilt)
    return manual_dir


def _ensure_fashion_mnist(tfds, root: Path) -> Path:
    """Prepare fashion_mnist in `root` from the offline files, once per data dir."""
    key = os.fspath(root.resolve())
    manual_dir = root / "downloads" / "manual" / "fashion_mnist"
    if key in _PREPARED:
        return manual_dir
    with _interprocess_lock(root / "downloads" / ".fashion_mnist.lock"):
        manual_dir = prepare_offline_fashion_mnist(root)
        try:
            with _tfds_prints_to_log():
                tfds.builder("fashion_mnist", data_dir=os.fspath(root)).download_and_prepare(
                    download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual_dir))
                )
        except Exception as err:  # noqa: BLE001 - any TFDS failure becomes one actionable error
            raise DataError(
                f"TFDS could not prepare fashion_mnist from {manual_dir}: "
                f"{type(err).__name__}: {err}. Delete {root / 'fashion_mnist'} and retry."
            ) from err
    _PREPARED.add(key)
    return manual_dir


def load_tfds_images(name, split, *, data_dir=None):
    """Load a TFDS image dataset split as float32 images in [0, 1] and int64 labels.

    "fashion_mnist" works offline: the first call per data dir rebuilds TFDS's source
    files from Debian's `dataset-fashion-mnist` package and prepares the dataset
    (about 7 s on 2 CPU cores; a file lock makes parallel processes prepare it once);
    later calls read the prepared copy. Other names go straight to `tfds.load`, which
    needs network access or an already prepared copy. Nothing is printed to stdout: the
    lines TFDS prints while preparing a dataset go to the `keras_vae.data.tfds_images`
    logger at INFO level (its progress bars still go to stderr).

    Args:
        name (str): TFDS dataset name with `image` and `label` supervised keys,
            e.g. "fashion_mnist".
        split (str): TFDS split, e.g. "train", "test" or "train[:10%]".
        data_dir (str | os.PathLike | None, default None): TFDS data dir; None means
            TFDS's default (TFDS_DATA_DIR or ~/tensorflow_datasets).

    Returns:
        tuple: (images float32 np.ndarray (N, H, W, C) in [0, 1], labels int64 np.ndarray (N,)).

    Raises:
        DataError: the dataset cannot be found, downloaded or prepared.

    Example:
        >>> import tempfile
        >>> data_dir = tempfile.mkdtemp()  # a fresh data dir: this call prepares, silently
        >>> x_test, y_test = load_tfds_images("fashion_mnist", "test", data_dir=data_dir)
        >>> x_test.shape
        (10000, 28, 28, 1)
    """
    tfds = _tfds()
    kwargs = {}
    try:
        root = _resolve_data_dir(name, data_dir)
    except Exception as err:  # noqa: BLE001 - any TFDS failure becomes one actionable error
        raise DataError(
            f"TFDS has no dataset {name!r} ({type(err).__name__}: {err}); check the name "
            "against tfds.list_builders()."
        ) from err
    if name == "fashion_mnist":
        manual_dir = _ensure_fashion_mnist(tfds, root)
        kwargs["download_and_prepare_kwargs"] = {
            "download_config": tfds.download.DownloadConfig(manual_dir=os.fspath(manual_dir))
        }
    try:
        with _tfds_prints_to_log():  # tfds.load prepares other datasets on first use
            images, labels = tfds.as_numpy(
                tfds.load(
                    name,
                    split=split,
                    as_supervised=True,
                    batch_size=-1,
                    data_dir=os.fspath(root),
                    **kwargs,
                )
            )
    except Exception as err:  # noqa: BLE001 - any TFDS failure becomes one actionable error
        raise DataError(
            f"tfds.load({name!r}, split={split!r}) failed in {root}: {type(err).__name__}: "
            f"{err}. This machine may not reach dataset hosts: prepare the dataset where "
            f"it can (tfds build {name}) and copy {root / name} here, or put its manual "
            f"downloads in {root / 'downloads' / 'manual'}."
        ) from err
    return validate_images(images, name=f"{name}[{split}]"), np.asarray(labels, dtype=np.int64)


def tfds_class_names(name):
    """Returns the class names of a TFDS image dataset's "label" feature, or None if it has none.

    Read from the dataset's TFDS builder (its declared features: no download, no network).

    Args:
        name: str. A TFDS dataset name, e.g. "fashion_mnist".

    Example:
    >>> tfds_class_names("fashion_mnist")[:3]
    ['T-shirt/top', 'Trouser', 'Pullover']
    """
    try:
        label = _tfds().builder(name).info.features["label"]
    except Exception:  # noqa: BLE001 - an unknown dataset or one without labels has no names to show
        return None
    return list(getattr(label, "names", None) or []) or None
