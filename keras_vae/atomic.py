"""Atomic file writes: an artifact appears whole or not at all."""

import contextlib
import json
import os
import tempfile


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary_file(path):
    """Returns `(fd, tmp)` of a new temporary file beside `path`; an error names `path`, not the temporary name."""
    directory, name = os.path.split(os.path.abspath(path))
    suffix = os.path.splitext(name)[1]  # Keras and matplotlib choose formats by suffix.
    try:
        return tempfile.mkstemp(prefix=f".{name}.", suffix=f".tmp{suffix}", dir=directory)
    except OSError as error:
        # The temporary name is ours, not the user's: say which file cannot be written, and why.
        raise type(error)(
            error.errno, f"cannot write {path}: no file can be created in {directory} ({error.strerror}); choose "
            "another location"
        ) from error


def check_writable(path):
    """Raises OSError naming `path` unless a file can be written there atomically; writes nothing that stays.

    Call it before long work whose result goes to `path`, so a bad destination fails at once.

    Args:
        path: str or os.PathLike. The file an `atomic_path` write will create.

    Example:
    >>> check_writable("/nonexistent/folder/result.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: [Errno 2] cannot write /nonexistent/folder/result.json: no file can be created in ...
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(21, f"cannot write {path}: it is a directory; name a file")
    fd, tmp = _temporary_file(path)
    os.close(fd)
    os.remove(tmp)


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; on success renames it to `path`, else removes it.

    The temporary file sits in the same directory, so the final `os.replace` is an
    atomic rename; it gets the permissions a plain `open(path, "w")` would give.

    Example:
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> with atomic_path(target) as tmp:
    ...     _ = open(tmp, "w").write("hello")
    >>> open(target).read()
    'hello'
    """
    path = os.fspath(path)
    fd, tmp = _temporary_file(path)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes(path, data):
    """Writes `data` to `path` atomically, flushed to disk first."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_json(path, data):
    """Writes `data` as indented, key-sorted JSON to `path` atomically."""
    write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def save_model(model, path):
    """Saves a Keras model to `path` (.keras) atomically."""
    with atomic_path(path) as tmp:
        model.save(tmp)
